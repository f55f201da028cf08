"""People of the workspace tests: each with their own browser (a test client) and the office
shell's access token, as the shell's script holds it."""

import base64
import json

from codeb.oidc.clients import FIRST_PARTY
from tests.support.oidc import tokens_for
from tests.support.web import HOST, RP

SHELL = RP(FIRST_PARTY, None, f"http://{HOST}/office.html")


class Person:
    """One person with their own browser (test client) and the shell's access token."""

    def __init__(self, app, mailbox, email):
        self.client = app.test_client()
        self.token = tokens_for(self.client, mailbox, SHELL, email=email)["access_token"]
        self.login = self.get("/api/me").json["login"]

    def headers(self, **extra):
        return {"Host": HOST, "Authorization": f"Bearer {self.token}", **extra}

    def get(self, url, **extra):
        return self.client.get(url, headers=self.headers(**extra))

    def send(self, method, url, body=None):
        return self.client.open(url, method=method, json=body, headers=self.headers())


def sub_of(person):
    payload = person.token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]
