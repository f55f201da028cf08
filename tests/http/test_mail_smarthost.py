"""Mail of a real page through an SMTP smarthost (CODEB_SMTP_HOST, as web.config's appSettings
set it): the sign-up link reaches a real SMTP server (aiosmtpd) on loopback and signs the
person up; a smarthost nobody answers at is a clear 503 page, never a traceback."""

import re
import socket
from email import message_from_bytes, policy
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller

from tests.support.web import HOST, configure_signin, csrf_of, use_link


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.SMTP))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sign_up(client, email):
    page = client.get("/signin", headers={"Host": HOST})
    return client.post("/signup", data={"csrf": csrf_of(page.text), "email": email}, headers={"Host": HOST})


def smarthost(monkeypatch, port):
    monkeypatch.setenv("CODEB_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CODEB_SMTP_PORT", str(port))
    monkeypatch.setenv("CODEB_SMTP_STARTTLS", "false")  # loopback test server; STARTTLS is tested in tests/unit
    monkeypatch.setenv("CODEB_SMTP_TIMEOUT", "3")


def test_the_sign_up_link_goes_through_the_smarthost_and_works(client, demo, mailbox, monkeypatch):
    configure_signin(demo, methods=["magic_link"], policy="open")
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        smarthost(monkeypatch, controller.port)
        assert sign_up(client, "lena@example.com").status_code in (200, 303)
    finally:
        controller.stop()
    assert [m["To"] for m in inbox.messages] == ["lena@example.com"]
    assert mailbox.files() == [], "nothing went to the pickup folder"
    text = inbox.messages[0].get_body(("plain",)).get_content()
    link = re.search(r"https?://\S+", text).group(0)
    assert use_link(client, urlsplit(link).path).headers["Location"] == "/welcome"


def test_an_unreachable_smarthost_is_a_clear_503_page(client, demo, monkeypatch):
    configure_signin(demo, methods=["magic_link"], policy="open")
    smarthost(monkeypatch, free_port())  # nobody listens there
    response = sign_up(client, "lena@example.com")
    assert response.status_code == 503
    assert "Traceback" not in response.text and "smtplib" not in response.text
    assert "<html" in response.text.lower()
