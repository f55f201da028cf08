"""Backup and restore stay a folder copy (issue 15): a tenant's folder copied into a fresh data
root is served there, its people sign in as before, with the same `sub`, and the tokens are
signed by the same keys; only its host-index entry is made again (`tenant reindex`)."""

import base64
import json
import shutil

from codeb.tenants import Tenants
from codeb.web.app import create_app
from tests.support.mailbox import Mailbox
from tests.support.oidc import tokens_for
from tests.support.web import HOST


def claims_of(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def test_a_copied_folder_serves_its_people_with_their_sub_and_keys(app, client, mailbox, rp, demo, tmp_path,
                                                                   clock):
    before = tokens_for(client, mailbox, rp)
    jwks = client.get("/jwks.json", headers={"Host": HOST}).json
    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copytree(demo.store.root, restored / demo.name)  # the backup, and its restore: one folder copy
    assert Tenants(str(restored)).reindex()["claimed"] == demo.hosts
    again = create_app({"CODEB_DATA": str(restored), "TESTING": True, "CODEB_CLOCK": clock, "CODEB_PORT": 80})
    browser = again.test_client()
    assert browser.get("/jwks.json", headers={"Host": HOST}).json == jwks
    after = tokens_for(browser, Mailbox(str(restored / "_mail" / "pickup")), rp)  # the same client and secret
    assert claims_of(after["id_token"])["sub"] == claims_of(before["id_token"])["sub"]
    assert claims_of(after["access_token"])["sub"] == claims_of(before["access_token"])["sub"]
    kids = {key["kid"] for key in jwks["keys"]}
    assert json.loads(base64.urlsafe_b64decode(after["id_token"].split(".")[0] + "=="))["kid"] in kids
    assert browser.get("/userinfo", headers={"Host": HOST, "Authorization": f"Bearer {before['access_token']}"}
                       ).status_code == 200  # a token issued before the backup is good after the restore
