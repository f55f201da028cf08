"""Mail through the local SMTP service's pickup folder (no third-party relay).

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
"""

import os
import secrets
import sys
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .. import ROOT, i18n
from ..errors import BadInput, MailNotSent
from ..store import spool
from ..tenants import branding

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


class Mailer:
    def __init__(self, *, pickup: str, sender: str, sender_name: str, languages: dict | None = None,
                 echo: bool = False, time_zone: str | None = None, brand: dict | None = None):
        self.pickup = pickup
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
        """Write one message into the pickup folder; return its path."""
        msg = self.compose(kind, to=to, language=language, **params)
        check_receiver(msg, to)
        envelope = f"X-Sender: {self.sender}\r\nX-Receiver: {to}\r\n".encode("ascii")
        data = envelope + msg.as_bytes(policy=SMTP)
        name = f"{int(time.time() * 1000)}-{secrets.token_hex(8)}.eml"
        try:
            final = spool.deliver(staging=self.staging, spool=self.pickup, name=name, data=data)
        except OSError:
            raise MailNotSent(email=to) from None
        if self.echo:
            text = msg.get_body(("plain",))
            sys.stderr.write(f"[codeb mail] to {to}: {msg['Subject']}\n{text.get_content() if text else ''}\n")
            sys.stderr.flush()
        return final


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
    (`base_url` is the origin its logo is linked on: the request's issuer, else https on its first host)."""
    return Mailer(
        pickup=pickup_folder(tenant.setting("mail", "pickup"), data_root),
        sender=tenant.setting("mail", "from") or f"no-reply@{tenant.hosts[0]}",
        sender_name=tenant.display_name,
        languages=tenant.languages,
        echo=echo,
        time_zone=tenant.setting("time_zone", default=i18n.DEFAULT_TIME_ZONE),
        brand=mail_brand(branding.brand_of(tenant.store), base_url=base_url or f"https://{tenant.hosts[0]}"),
    )
