from urllib.parse import urlencode, urlsplit

from tests.support.web import HOST, pkce_pair, query_of, sign_in


def test_code_flow_end_to_end(client, mailbox, rp):
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": rp.client_id, "redirect_uri": rp.redirect_uri,
              "scope": "openid profile email", "state": "s1", "nonce": "n1",
              "code_challenge": challenge, "code_challenge_method": "S256"}
    r = client.get("/authorize?" + urlencode(params), headers={"Host": HOST})
    assert r.status_code == 303
    iid = query_of(r.headers["Location"])["i"]
    done = sign_in(client, mailbox, "alice@example.com", interaction=iid)
    assert done.status_code == 303, done.text
    location = urlsplit(done.headers["Location"])
    resumed = client.get(location.path + "?" + location.query, headers={"Host": HOST})
    assert resumed.status_code == 302, resumed.text
    q = query_of(resumed.headers["Location"])
    assert q["state"] == "s1" and q["iss"] == "http://localhost"
    tok = client.post("/token", data={"grant_type": "authorization_code", "code": q["code"],
                                      "redirect_uri": rp.redirect_uri, "code_verifier": verifier},
                      auth=(rp.client_id, rp.secret), headers={"Host": HOST})
    assert tok.status_code == 200, tok.text
    body = tok.json
    assert {"access_token", "id_token", "refresh_token"} <= set(body)
    ui = client.get("/userinfo", headers={"Host": HOST, "Authorization": "Bearer " + body["access_token"]})
    assert ui.status_code == 200, ui.text
    assert ui.json["email"] == "alice@example.com"
