"""One dispatch for every method: `POST /signin/<method>/<step>`, found in the registry."""

import pytest

from codeb.accounts import passwords
from codeb.signin import REGISTRY
from tests.support.web import HOST, csrf_of, sign_in

SECRET = "Kettle-Orbit-Lantern-42"


def token_of(client):
    return csrf_of(client.get("/signin", headers={"Host": HOST}).text)


@pytest.mark.parametrize("path", ["/signin/magic_link/begin",   # the name, not its URL form
                                  "/signin/sms/begin", "/signin/magic-link/finish",
                                  "/signin/passkey/settings", "/signin/password/usable_by"])
def test_only_registered_methods_and_their_two_steps_are_reachable(client, path):
    response = client.post(path, data={"csrf": token_of(client)}, headers={"Host": HOST})
    assert response.status_code == 404


def test_every_method_is_reached_at_its_own_url(client):
    for name in REGISTRY:
        for step in ("begin", "complete"):
            path = f"/signin/{name.replace('_', '-')}/{step}"
            response = client.post(path, data={"csrf": token_of(client)}, headers={"Host": HOST})
            assert response.status_code in (400, 403), (path, response.status_code)  # reached, refused


def test_a_submission_without_the_methods_fields_is_a_clear_400(client):
    response = client.post("/signin/magic-link/complete", data={"csrf": token_of(client), "email": "a@b.example"},
                           headers={"Host": HOST})
    assert response.status_code == 400 and "The request was not understood." in response.text


def test_a_json_method_answers_json_even_when_refused(client):
    token = token_of(client)
    response = client.post("/signin/passkey/complete", json={"i": "x"}, headers={"Host": HOST, "X-CSRF-Token": token})
    assert response.status_code == 400 and response.json["error"] == "error.bad_request"
    assert response.json["message"]


def test_a_disabled_method_is_refused_in_its_own_dialect(client, demo):
    with demo.store.update("tenant") as doc:
        doc["methods"] = ["magic_link"]
    token = token_of(client)
    as_json = client.post("/signin/passkey/begin", json={}, headers={"Host": HOST, "X-CSRF-Token": token})
    assert as_json.status_code == 400 and as_json.json["error"] == "error.method_disabled"
    as_page = client.post("/signin/password/complete", data={"csrf": token, "email": "a@b.example",
                                                              "password": "x"}, headers={"Host": HOST})
    assert as_page.status_code == 400 and as_page.mimetype == "text/html"


def test_password_begins_identifier_first(client, mailbox, demo, accounts, monkeypatch):
    monkeypatch.setattr(passwords, "ITERATIONS", 1000)
    with demo.store.update("tenant") as doc:
        doc["methods"] = ["magic_link", "passkey", "password"]
    sign_in(client, mailbox, "alice@example.com")
    passwords.change(accounts, "alice", current="", new=SECRET, repeat=SECRET, realm="localhost")
    client.post("/signout", data={"csrf": token_of(client)}, headers={"Host": HOST})
    page = client.post("/signin/password/begin", data={"csrf": token_of(client), "email": "Alice@Example.com"},
                       headers={"Host": HOST})
    assert page.status_code == 200
    assert 'value="alice@example.com"' in page.text and 'type="password"' in page.text
    assert 'action="/signin/password/complete"' in page.text
    done = client.post("/signin/password/complete", data={"csrf": csrf_of(page.text), "email": "alice@example.com",
                                                          "password": SECRET}, headers={"Host": HOST})
    assert done.status_code == 303 and done.headers["Location"] == "/office.html"
    bad = client.post("/signin/password/begin", data={"csrf": token_of(client), "email": "nope"},
                      headers={"Host": HOST})
    assert bad.status_code == 400 and "valid email address" in bad.text
