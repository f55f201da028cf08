"""Protocol helpers for the HTTP-level tests: authorize, sign in, exchange the code."""

from urllib.parse import urlencode, urlsplit

from tests.support.web import HOST, pkce_pair, query_of, sign_in


def authorize_params(rp, challenge=None, **extra):
    params = {"response_type": "code", "client_id": rp.client_id, "redirect_uri": rp.redirect_uri,
              "scope": "openid profile email", "state": "st4te", "nonce": "n0nce"}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


def get_authorize(client, params, host=HOST):
    return client.get("/authorize?" + urlencode(params), headers={"Host": host})


def follow_local(client, response, host=HOST):
    location = urlsplit(response.headers["Location"])
    return client.get(location.path + ("?" + location.query if location.query else ""),
                      headers={"Host": host})


def signed_in_code(client, mailbox, rp, email="alice@example.com", **extra):
    """Authorize, sign in with a magic link, return (code, verifier, redirect query)."""
    verifier, challenge = pkce_pair()
    first = get_authorize(client, authorize_params(rp, challenge, **extra))
    if first.status_code == 302:  # this browser is signed in already
        return query_of(first.headers["Location"])["code"], verifier, query_of(first.headers["Location"])
    assert first.status_code == 303, first.text
    iid = query_of(first.headers["Location"])["i"]
    done = sign_in(client, mailbox, email, interaction=iid)
    assert done.status_code == 303, done.text
    answer = follow_local(client, done)
    assert answer.status_code == 302, answer.text
    query = query_of(answer.headers["Location"])
    return query["code"], verifier, query


def exchange(client, rp, code, verifier, **extra):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier, **extra}
    auth = (rp.client_id, rp.secret) if rp.secret else None
    if not rp.secret:
        data["client_id"] = rp.client_id
    return client.post("/token", data={k: v for k, v in data.items() if v is not None},
                       auth=auth, headers={"Host": HOST})


def tokens_for(client, mailbox, rp, **extra):
    code, verifier, _ = signed_in_code(client, mailbox, rp, **extra)
    response = exchange(client, rp, code, verifier)
    assert response.status_code == 200, response.text
    return response.json
