"""Mail through an SMTP smarthost: a real SMTP server (aiosmtpd) on loopback takes the message
over STARTTLS with AUTH; a server without STARTTLS, with an untrusted certificate, refusing the
login, never answering or not listening gets nothing, and the sender gets MailNotSent (503)."""

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from codeb.errors import MailNotSent
from codeb.notify.mail import Mailer, Smarthost, SmarthostMisconfigured, smarthost_from

LOOPBACK = "127.0.0.1"
USER, PASSWORD = "codeb", "s3cret pass"


class Inbox:
    """aiosmtpd's handler: keeps every message it is given."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (server context, CA file that trusts it)."""
    folder = tmp_path_factory.mktemp("smtp-tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smarthost.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, str(cert_file)


def serve(**smtp_parameters):
    inbox = Inbox()
    controller = Controller(inbox, hostname=LOOPBACK, port=free_port(), **smtp_parameters)
    controller.start()
    return controller, inbox


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "smtp-password.txt"
    path.write_text(PASSWORD + "\r\n", encoding="utf-8-sig")  # as Notepad saves it: BOM and line end are no part
    return str(path)


def mailer(smarthost, tmp_path):
    return Mailer(pickup=str(tmp_path / "mailroot" / "Pickup"), sender="no-reply@login.example",
                  sender_name="Example GmbH", smarthost=smarthost)


def send(m: Mailer) -> str:
    return m.send("magic_link", to="alice@example.com", language="en", url="https://login.example/link/abc",
                  minutes=5, new_account=False)


def test_a_message_goes_over_starttls_with_auth(tls, tmp_path, password_file):
    context, cafile = tls
    controller, inbox = serve(tls_context=context, require_starttls=True, authenticator=authenticator,
                              auth_require_tls=True)
    try:
        host = Smarthost(host=LOOPBACK, port=controller.port, user=USER, password_file=password_file,
                         cafile=cafile, timeout=5)
        message_id = send(mailer(host, tmp_path))
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    sender, recipients, content = inbox.messages[0]
    assert (sender, recipients) == ("no-reply@login.example", ["alice@example.com"])
    message = message_from_bytes(content, policy=policy.SMTP)
    assert message["Message-ID"] == message_id and message["To"] == "alice@example.com"
    assert "https://login.example/link/abc" in message.get_body(("plain",)).get_content()
    assert not (tmp_path / "mailroot").exists(), "nothing went to the pickup folder"


def test_starttls_off_sends_in_the_clear_when_the_operator_says_so(tmp_path):
    controller, inbox = serve()
    try:
        send(mailer(Smarthost(host=LOOPBACK, port=controller.port, starttls=False, timeout=5), tmp_path))
    finally:
        controller.stop()
    assert [m[1] for m in inbox.messages] == [["alice@example.com"]]


def test_a_server_without_starttls_gets_neither_password_nor_message(tmp_path, password_file):
    controller, inbox = serve(authenticator=authenticator, auth_require_tls=False)
    try:
        host = Smarthost(host=LOOPBACK, port=controller.port, user=USER, password_file=password_file, timeout=5)
        with pytest.raises(MailNotSent) as refused:
            send(mailer(host, tmp_path))
    finally:
        controller.stop()
    assert refused.value.status == 503 and refused.value.message_id == "error.mail_not_sent"
    assert inbox.messages == []


def test_an_untrusted_certificate_is_refused(tls, tmp_path):
    context, _ = tls
    controller, inbox = serve(tls_context=context, require_starttls=True)
    try:
        with pytest.raises(MailNotSent):
            send(mailer(Smarthost(host=LOOPBACK, port=controller.port, timeout=5), tmp_path))  # system CAs only
    finally:
        controller.stop()
    assert inbox.messages == []


def test_a_refused_login_sends_nothing(tls, tmp_path):
    context, cafile = tls
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the password", encoding="utf-8")
    controller, inbox = serve(tls_context=context, require_starttls=True, authenticator=authenticator,
                              auth_require_tls=True)
    try:
        host = Smarthost(host=LOOPBACK, port=controller.port, user=USER, password_file=str(wrong), cafile=cafile,
                         timeout=5)
        with pytest.raises(MailNotSent):
            send(mailer(host, tmp_path))
    finally:
        controller.stop()
    assert inbox.messages == []


def test_a_server_that_never_answers_times_out(tmp_path):
    """A listener that accepts and never greets: the send ends after the timeout, not later."""
    listener = socket.socket()
    listener.bind((LOOPBACK, 0))
    listener.listen()
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(MailNotSent):
            send(mailer(Smarthost(host=LOOPBACK, port=listener.getsockname()[1], timeout=0.5), tmp_path))
    finally:
        for connection in accepted:
            connection.close()
        listener.close()
    assert time.monotonic() - started < 5


def test_nobody_listening_is_mail_not_sent(tmp_path):
    with pytest.raises(MailNotSent):
        send(mailer(Smarthost(host=LOOPBACK, port=free_port(), timeout=2), tmp_path))


def test_a_misconfigured_smarthost_fails_each_send_clearly(tmp_path):
    with pytest.raises(MailNotSent):
        send(mailer(SmarthostMisconfigured("CODEB_SMTP_PORT is not a port number"), tmp_path))
    assert not (tmp_path / "mailroot").exists(), "a broken smarthost setting never falls back to the pickup folder"


# --- The settings --------------------------------------------------------------------------


@pytest.mark.parametrize("environ", [{}, {"CODEB_SMTP_HOST": ""}, {"CODEB_SMTP_HOST": "  ", "CODEB_SMTP_PORT": ""}],
                         ids=["unset", "empty", "blank"])
def test_no_host_is_the_pickup_folder(environ):
    assert smarthost_from(environ) is None


def test_the_settings_and_their_defaults():
    assert smarthost_from({"CODEB_SMTP_HOST": "smtp.example.com"}) == Smarthost(host="smtp.example.com")
    assert smarthost_from({"CODEB_SMTP_HOST": "smtp.example.com", "CODEB_SMTP_PORT": "25",
                           "CODEB_SMTP_STARTTLS": "false", "CODEB_SMTP_USER": "codeb",
                           "CODEB_SMTP_PASSWORD_FILE": r"C:\CodeB\secrets\smtp-password.txt",
                           "CODEB_SMTP_TIMEOUT": "3.5", "CODEB_SMTP_PORT_UNUSED": "x"}) == Smarthost(
        host="smtp.example.com", port=25, starttls=False, user="codeb",
        password_file=r"C:\CodeB\secrets\smtp-password.txt", timeout=3.5)


@pytest.mark.parametrize(("setting", "value", "named"), [
    ("CODEB_SMTP_HOST", "smtp.example.com/x", "CODEB_SMTP_HOST"),
    ("CODEB_SMTP_HOST", "user@smtp.example.com", "CODEB_SMTP_HOST"),
    ("CODEB_SMTP_PORT", "0", "CODEB_SMTP_PORT"),
    ("CODEB_SMTP_PORT", "65536", "CODEB_SMTP_PORT"),
    ("CODEB_SMTP_PORT", "smtp", "CODEB_SMTP_PORT"),
    ("CODEB_SMTP_STARTTLS", "maybe", "CODEB_SMTP_STARTTLS"),
    ("CODEB_SMTP_TIMEOUT", "0", "CODEB_SMTP_TIMEOUT"),
    ("CODEB_SMTP_TIMEOUT", "600", "CODEB_SMTP_TIMEOUT"),
    ("CODEB_SMTP_TIMEOUT", "soon", "CODEB_SMTP_TIMEOUT"),
    ("CODEB_SMTP_USER", "codeb", "CODEB_SMTP_PASSWORD_FILE"),
])
def test_a_bad_setting_is_named(setting, value, named):
    environ = {"CODEB_SMTP_HOST": "smtp.example.com", setting: value}
    with pytest.raises(SmarthostMisconfigured) as refused:
        smarthost_from(environ)
    assert named in str(refused.value)


def test_an_unreadable_password_file_is_mail_not_sent(tls, tmp_path):
    context, cafile = tls
    garbled = tmp_path / "password.bin"
    garbled.write_bytes(b"\xff\xfe\x00not utf-8")
    controller, inbox = serve(tls_context=context, require_starttls=True, authenticator=authenticator,
                              auth_require_tls=True)
    try:
        for path in (str(garbled), str(tmp_path / "missing.txt")):
            host = Smarthost(host=LOOPBACK, port=controller.port, user=USER, password_file=path, cafile=cafile,
                             timeout=5)
            with pytest.raises(MailNotSent):
                send(mailer(host, tmp_path))
    finally:
        controller.stop()
    assert inbox.messages == []
