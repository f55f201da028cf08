"""Mail through the local SMTP service's pickup folder, or an SMTP smarthost the operator names.

The IIS SMTP service sends every file that appears in its Pickup folder. Each
file is an RFC 5322 message with CRLF line ends, preceded by the envelope lines
`X-Sender` and `X-Receiver`. A message is written completely to a staging
folder on the same volume first and then renamed into Pickup, so the service
never reads half a file. Messages are rendered from `templates/mail/` in the
recipient's language, as plain text with an HTML alternative, inside one
layout (`_layout.html`, `_layout.txt`) that carries the tenant's brand: its
logo (an absolute URL on the tenant's host, so no mail grows by the image),
header text or name, accent colour and footer text. The store's `spool` does
the writing; this module only composes.

The IIS SMTP service is deprecated in recent Windows Server releases, so the
operator may name a smarthost instead (`smarthost_from`: CODEB_SMTP_HOST and its
siblings, from the site's appSettings or the process environment). Then each
message goes to it over SMTP (RFC 5321) with STARTTLS (RFC 3207) required unless
turned off, optionally AUTH with a password read from a file, within a bounded
timeout. Either way a message that cannot be handed on is MailNotSent (503): the
person sees a clear page, the operator's log says why.
"""

import logging
import os
import secrets
import smtplib
import ssl
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .. import ROOT, i18n
from ..errors import BadInput, MailNotSent
from ..store import files, spool
from ..tenants import branding

log = logging.getLogger("codeb.notify")

TEMPLATES = os.path.join(ROOT, "templates", "mail")
WINDOWS_PICKUP = r"C:\inetpub\mailroot\Pickup"
LOGO_HEIGHT, LOGO_MAX_WIDTH = 40, 240  # pixels of the logo in a mail's header

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   keep_trailing_newline=True)


def pickup_folder(tenant_setting: str | None, data_root: str) -> str:
    """The tenant's setting, else CODEB_MAIL_PICKUP, else the platform default."""
    if tenant_setting:
        return tenant_setting
    if os.environ.get("CODEB_MAIL_PICKUP"):
        return os.environ["CODEB_MAIL_PICKUP"]
    if os.name == "nt":
        return WINDOWS_PICKUP
    return os.path.join(data_root, "_mail", "pickup")


def staging_folder(pickup: str) -> str:
    """A sibling of the pickup folder: same volume, so the final rename is atomic."""
    return os.path.join(os.path.dirname(os.path.abspath(pickup)), "CodeB-Staging")


SMTP_PORT, SMTP_TIMEOUT = 587, 10.0  # the submission port (RFC 6409); seconds for each network step
MAX_SMTP_TIMEOUT = 60.0
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class SmarthostMisconfigured(ValueError):
    """A CODEB_SMTP_* setting that cannot be used; the message names it (never its secret)."""


@dataclass(frozen=True)
class Smarthost:
    host: str
    port: int = SMTP_PORT
    starttls: bool = True             # required: a server that does not offer it gets no message
    user: str | None = None
    password_file: str | None = None  # the password is read at each send, never kept in a setting
    cafile: str | None = None         # a private CA's certificates; default: the system's
    timeout: float = SMTP_TIMEOUT


def smarthost_from(environ: Mapping[str, str]) -> Smarthost | None:
    """The smarthost CODEB_SMTP_HOST names (with CODEB_SMTP_PORT, CODEB_SMTP_STARTTLS,
    CODEB_SMTP_USER, CODEB_SMTP_PASSWORD_FILE, CODEB_SMTP_CAFILE, CODEB_SMTP_TIMEOUT), or None
    (the pickup folder) when it is unset or empty, as in the shipped web.config."""
    host = (environ.get("CODEB_SMTP_HOST") or "").strip()
    if not host:
        return None
    if any(c.isspace() or c in "/\\@" for c in host):
        raise SmarthostMisconfigured("CODEB_SMTP_HOST is not a host name")
    port_text = (environ.get("CODEB_SMTP_PORT") or "").strip() or str(SMTP_PORT)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise SmarthostMisconfigured("CODEB_SMTP_PORT is not a port number")
    starttls = (environ.get("CODEB_SMTP_STARTTLS") or "true").strip().lower()
    if starttls not in _TRUE + _FALSE:
        raise SmarthostMisconfigured("CODEB_SMTP_STARTTLS is neither true nor false")
    timeout_text = (environ.get("CODEB_SMTP_TIMEOUT") or "").strip() or str(SMTP_TIMEOUT)
    try:
        timeout = float(timeout_text)
    except ValueError:
        raise SmarthostMisconfigured("CODEB_SMTP_TIMEOUT is not a number of seconds") from None
    if not 0 < timeout <= MAX_SMTP_TIMEOUT:
        raise SmarthostMisconfigured(f"CODEB_SMTP_TIMEOUT is not within 0..{MAX_SMTP_TIMEOUT:g} seconds")
    user = (environ.get("CODEB_SMTP_USER") or "").strip() or None
    password_file = (environ.get("CODEB_SMTP_PASSWORD_FILE") or "").strip() or None
    if user is not None and password_file is None:
        raise SmarthostMisconfigured("CODEB_SMTP_USER is set without CODEB_SMTP_PASSWORD_FILE")
    return Smarthost(host=host, port=int(port_text), starttls=starttls in _TRUE, user=user,
                     password_file=password_file, cafile=(environ.get("CODEB_SMTP_CAFILE") or "").strip() or None,
                     timeout=timeout)


def _password(path: str) -> str:
    data = files.read_bytes(path)  # the store reads every file, this one too
    if data is None:
        raise FileNotFoundError(path)  # an OSError: the mail is not sent, the log says why
    return data.decode("utf-8-sig").strip()  # Notepad may save a BOM; it is no part of the password


def submit(smarthost: Smarthost, msg: EmailMessage, *, sender: str, to: str) -> None:
    """Hand one message to the smarthost; smtplib.SMTPException or OSError if it is not taken.
    With `starttls` the session is encrypted before anything else is said (RFC 3207 §4: a
    server that does not offer STARTTLS gets neither credentials nor the message)."""
    with smtplib.SMTP(smarthost.host, smarthost.port, timeout=smarthost.timeout) as smtp:
        smtp.ehlo()
        if smarthost.starttls:
            if not smtp.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError("the smarthost does not offer STARTTLS")
            smtp.starttls(context=ssl.create_default_context(cafile=smarthost.cafile))
            smtp.ehlo()
        if smarthost.user is not None and smarthost.password_file is not None:
            smtp.login(smarthost.user, _password(smarthost.password_file))
        refused = smtp.send_message(msg, from_addr=sender, to_addrs=[to])
        if refused:  # only one recipient: a refusal raises SMTPRecipientsRefused before this
            raise smtplib.SMTPRecipientsRefused(refused)


class Mailer:
    def __init__(self, *, pickup: str, sender: str, sender_name: str, languages: dict | None = None,
                 echo: bool = False, time_zone: str | None = None, brand: dict | None = None,
                 smarthost: Smarthost | SmarthostMisconfigured | None = None):
        self.pickup = pickup
        self.smarthost = smarthost  # a SmarthostMisconfigured: every send is MailNotSent, and logged
        self.staging = staging_folder(pickup)
        self.sender = sender
        self.sender_name = sender_name
        self.languages = languages or {}
        self.echo = echo
        self.time_zone = time_zone or i18n.DEFAULT_TIME_ZONE  # the tenant's: what a mail's times are in
        self.brand = brand or mail_brand(branding.NONE, base_url=None)

    def compose(self, kind: str, *, to: str, language: str, **params) -> EmailMessage:
        extra = self.languages.get(language)

        def _(message_id, **kw):
            return i18n.translate(language, message_id, extra, **kw)

        def when(timestamp) -> str:  # a moment in the recipient's language and the tenant's zone
            return i18n.format_moment(language, timestamp, self.time_zone)

        context = {"_": _, "when": when, "tenant": self.sender_name, "lang": language, **params,
                   "brand": self.brand}
        msg = EmailMessage(policy=SMTP)
        msg["From"] = formataddr((self.sender_name, self.sender))
        try:
            msg["To"] = to
        except ValueError:  # an address part holding CR or LF
            raise BadInput("error.invalid_email") from None
        msg["Subject"] = _(f"mail.{kind}.subject", tenant=self.sender_name)
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(domain=self.sender.split("@")[-1])
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(_env.get_template(f"{kind}.txt").render(context))
        msg.add_alternative(_env.get_template(f"{kind}.html").render(context), subtype="html")
        msg["Content-Language"] = language  # after set_content, which clears Content-* headers
        return msg

    def send(self, kind: str, *, to: str, language: str, **params) -> str:
        """Write one message into the pickup folder, or hand it to the smarthost; return its path,
        or its Message-ID when it went to the smarthost."""
        msg = self.compose(kind, to=to, language=language, **params)
        check_receiver(msg, to)
        if self.smarthost is not None:
            final = self._submit(msg, to)
        else:
            final = self._drop(msg, to)
        if self.echo:
            text = msg.get_body(("plain",))
            sys.stderr.write(f"[codeb mail] to {to}: {msg['Subject']}\n{text.get_content() if text else ''}\n")
            sys.stderr.flush()
        return final

    def _drop(self, msg: EmailMessage, to: str) -> str:
        envelope = f"X-Sender: {self.sender}\r\nX-Receiver: {to}\r\n".encode("ascii")
        data = envelope + msg.as_bytes(policy=SMTP)
        name = f"{int(time.time() * 1000)}-{secrets.token_hex(8)}.eml"
        try:
            return spool.deliver(staging=self.staging, spool=self.pickup, name=name, data=data)
        except OSError:
            raise MailNotSent(email=to) from None

    def _submit(self, msg: EmailMessage, to: str) -> str:
        if isinstance(self.smarthost, SmarthostMisconfigured):
            log.error("mail is not sent: %s", self.smarthost)
            raise MailNotSent(email=to)
        assert self.smarthost is not None
        try:
            submit(self.smarthost, msg, sender=self.sender, to=to)
        except (smtplib.SMTPException, OSError, UnicodeError) as error:  # ssl.SSLError, timeouts: OSErrors
            log.warning("mail to the smarthost %s:%d failed: %s: %s", self.smarthost.host, self.smarthost.port,
                        type(error).__name__, str(error)[:200])
            raise MailNotSent(email=to) from None
        return str(msg["Message-ID"])


def check_receiver(msg: EmailMessage, to: str) -> None:
    """Defence in depth behind `normalize_email`: the SMTP service delivers to `X-Receiver`,
    the person reads `To:`; a message where they would differ (an RFC 2047 encoded word
    decoded in `To:`, a display name, a list) or that needs SMTPUTF8 is never written."""
    if not to.isascii() or [address.addr_spec for address in msg["To"].addresses] != [to]:
        raise BadInput("error.invalid_email")


def mail_brand(brand: branding.Brand, *, base_url: str | None) -> dict:
    """What a mail's layout shows of the tenant's brand. The logo is linked on the tenant's own
    host (`base_url`, its https origin), at a header's height, keeping its shape."""
    colours = brand.palette
    values: dict[str, object] = {"accent": colours.accent if colours else branding.DEFAULT_ACCENT,
                                 "header": brand.mail_header, "footer": brand.mail_footer, "logo_url": None}
    if brand.logo is not None and base_url:
        scale = min(LOGO_HEIGHT / brand.logo.height, LOGO_MAX_WIDTH / brand.logo.width)
        values.update(logo_url=f"{base_url.rstrip('/')}/brand/logo?v={brand.version}",
                      logo_width=round(brand.logo.width * scale), logo_height=round(brand.logo.height * scale))
    return values


def mailer_for(tenant, *, data_root: str, echo: bool = False, base_url: str | None = None) -> Mailer:
    """The tenant's mailer: its pickup folder and sender settings, its languages, its brand
    (`base_url` is the origin its logo is linked on: the request's issuer, else https on its first host),
    and the smarthost of the process environment if one is named (else the pickup folder)."""
    smarthost: Smarthost | SmarthostMisconfigured | None
    try:
        smarthost = smarthost_from(os.environ)
    except SmarthostMisconfigured as error:  # told when a mail is to go, not on every page
        smarthost = error
    return Mailer(
        pickup=pickup_folder(tenant.setting("mail", "pickup"), data_root),
        sender=tenant.setting("mail", "from") or f"no-reply@{tenant.hosts[0]}",
        sender_name=tenant.display_name,
        languages=tenant.languages,
        echo=echo,
        time_zone=tenant.setting("time_zone", default=i18n.DEFAULT_TIME_ZONE),
        brand=mail_brand(branding.brand_of(tenant.store), base_url=base_url or f"https://{tenant.hosts[0]}"),
        smarthost=smarthost,
    )
