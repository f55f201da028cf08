"""Mail is written the way the IIS SMTP service reads its pickup folder."""

import os
from email import message_from_bytes, policy

import pytest

from codeb.errors import BadInput
from codeb.notify.mail import Mailer, pickup_folder, staging_folder


def make_mailer(tmp_path, **kw):
    return Mailer(pickup=str(tmp_path / "mailroot" / "Pickup"), sender="no-reply@login.example",
                  sender_name="Example GmbH", **kw)


def test_message_shape_envelope_first_and_crlf(tmp_path):
    path = make_mailer(tmp_path).send("magic_link", to="alice@example.com", language="en",
                                      url="https://login.example/link/abc", minutes=5, new_account=False)
    raw = open(path, "rb").read()
    assert raw.startswith(b"X-Sender: no-reply@login.example\r\nX-Receiver: alice@example.com\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")  # every line ends in CRLF
    message = message_from_bytes(raw.split(b"\r\n", 2)[2], policy=policy.SMTP)
    assert message["To"] == "alice@example.com"
    assert message["From"] == "Example GmbH <no-reply@login.example>"
    assert message["Message-ID"] and message["Date"] and message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    assert "https://login.example/link/abc" in message.get_body(("plain",)).get_content()
    assert 'href="https://login.example/link/abc"' in message.get_body(("html",)).get_content()


def test_staging_is_a_sibling_on_the_same_volume_and_left_empty(tmp_path):
    mailer = make_mailer(tmp_path)
    mailer.send("no_account", to="bob@example.com", language="de", url="https://login.example/signin")
    assert staging_folder(mailer.pickup) == str(tmp_path / "mailroot" / "CodeB-Staging")
    assert os.listdir(mailer.staging) == []
    assert len(os.listdir(mailer.pickup)) == 1
    assert os.stat(mailer.staging).st_dev == os.stat(mailer.pickup).st_dev


def test_header_injection_through_the_address_is_impossible(tmp_path):
    with pytest.raises(BadInput) as refused:
        make_mailer(tmp_path).send("no_account", to="a@example.com\r\nBcc: victim@example.com",
                                   language="en", url="x")
    assert refused.value.message_id == "error.invalid_email"


def test_html_part_escapes_values(tmp_path):
    path = make_mailer(tmp_path).send("magic_link", to="a@example.com", language="en",
                                      url='https://x/"><script>', minutes=5, new_account=True)
    message = message_from_bytes(open(path, "rb").read().split(b"\r\n", 2)[2], policy=policy.SMTP)
    assert "<script>" not in message.get_body(("html",)).get_content()


def test_pickup_folder_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("CODEB_MAIL_PICKUP", raising=False)
    assert pickup_folder(None, "/data") == os.path.join("/data", "_mail", "pickup")
    monkeypatch.setenv("CODEB_MAIL_PICKUP", "/srv/pickup")
    assert pickup_folder(None, "/data") == "/srv/pickup"
    assert pickup_folder("/tenant/pickup", "/data") == "/tenant/pickup"


def test_echo_prints_the_link_for_local_use(tmp_path, capsys):
    make_mailer(tmp_path, echo=True).send("magic_link", to="a@example.com", language="en",
                                          url="http://localhost:8000/link/xyz", minutes=5, new_account=False)
    assert "http://localhost:8000/link/xyz" in capsys.readouterr().err


@pytest.mark.parametrize("to", ["=?utf-8?q?victim=40evil.example=3E=2C?=@example.com",
                                "Someone <alice@example.com>", "alice@example.com, bob@example.com",
                                "jörg@example.com"])
def test_a_message_whose_to_would_differ_from_x_receiver_is_never_written(tmp_path, to):
    """Finding 12: defence in depth; even an address that got past validation never becomes a
    message whose `To:` names someone other than its envelope's `X-Receiver`."""
    mailer = make_mailer(tmp_path)
    with pytest.raises(BadInput) as refused:
        mailer.send("magic_link", to=to, language="en", url="https://login.example/link/abc", minutes=5,
                    new_account=False)
    assert refused.value.message_id == "error.invalid_email"
    for folder in (mailer.pickup, mailer.staging):
        assert not os.path.isdir(folder) or os.listdir(folder) == []
