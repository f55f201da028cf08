"""The tenant's brand: the admin's Branding page, and what every page, mail and the manifest load.

`/brand/logo`, `/brand/favicon` and `/brand.css` are served per tenant (the Host
decided the tenant before any view ran), with the type the bytes proved at upload,
an ETag and a public cache lifetime; pages link them with `?v=<version>`, so a new
brand is seen at once. The Branding page saves one form as one change
(codeb.tenants.branding.save) or refuses it with the reason beside the field.
"""

import math
from functools import wraps

from flask import Blueprint, Response, g, redirect, render_template, request, url_for

from .. import audit, i18n
from ..errors import BadInput, CodebError
from ..tenants import branding
from ..tenants.branding import Brand
from . import admin

bp = Blueprint("brand", __name__)

MAX_AGE = 3600            # an unversioned URL (a mail's logo) is revalidated after an hour
VERSIONED_MAX_AGE = 31536000  # `?v=` names the content: a page's links never go stale
UPLOAD_LIMIT = 1024 * 1024    # the Branding form's request; the images' own limits are smaller and explained
NOTICES = ("saved", "logo_removed", "favicon_removed", "colour_reset")


def current() -> Brand:
    """This request's tenant's brand (read once per request)."""
    if "brand" not in g.__dict__:
        g.__dict__["brand"] = branding.brand_of(g.tenant.store)
    return g.__dict__["brand"]


@bp.app_template_global("brand")
def brand_for_templates() -> Brand:
    return current() if g.get("tenant") is not None else branding.NONE


def upload_limit() -> None:
    """Before the CSRF check reads the form: the Branding form may carry a logo and a favicon
    larger than the site's request limit, so that a too-large image gets its own message."""
    if request.endpoint == "brand.save":
        request.max_content_length = UPLOAD_LIMIT


# -- served to everyone of this tenant ---------------------------------------------------

def _cached(response: Response, etag: str) -> Response:
    versioned = bool(request.args.get("v"))
    response.headers["Cache-Control"] = f"public, max-age={VERSIONED_MAX_AGE if versioned else MAX_AGE}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(etag)
    response.make_conditional(request)  # 304 without a body when the browser's ETag matches
    return response


def _image(image) -> Response:
    if image is None:
        return Response(status=404, headers={"Cache-Control": "no-cache"})
    response = Response(image.data, mimetype=image.mimetype)
    response.headers["Content-Disposition"] = f"inline; filename=brand.{image.extension}"
    return _cached(response, image.etag)


@bp.get("/brand/logo")
def logo():
    return _image(current().logo)


@bp.get("/brand/favicon")
def favicon():
    return _image(current().icon)


@bp.get("/brand.css")
def stylesheet():
    """The accent of this tenant for the light and the dark theme. `html:root` outranks the
    shared sheet's `:root` whatever the order of the two links; CSP allows no inline style."""
    colours = current().palette
    if colours is None:
        body = "/* this tenant uses the shipped colours */\n"
    else:
        body = (f"html:root {{ --accent: {colours.accent}; --accent-ink: {branding.WHITE};\n"
                f"  --brand-accent: {colours.accent}; --brand-dark-accent: {colours.dark_accent};"
                f" --brand-dark-ink: {colours.dark_ink}; }}\n"
                "@media (prefers-color-scheme: dark) {\n"
                f"  html:root {{ --accent: {colours.dark_accent}; --accent-ink: {colours.dark_ink}; }}\n"
                "}\n")
    return _cached(Response(body, mimetype="text/css"), current().version)


def theme_colour() -> str:
    """The installed app's and the browser's bar colour: the tenant's accent, else the shipped one."""
    colours = current().palette
    return colours.accent if colours else branding.DEFAULT_ACCENT


def manifest_icons() -> list[dict]:
    """The tenant's logo as the app's icon, ahead of the shipped icons (which cover the sizes
    an installable app needs when the logo is small or not square)."""
    image = current().logo
    if image is None:
        return []
    return [{"src": url_for("brand.logo", v=current().version), "sizes": f"{image.width}x{image.height}",
             "type": image.mimetype, "purpose": "any"}]


# -- the admin's Branding page -------------------------------------------------------------

def admins_only(view):
    @wraps(view)
    def guarded(*args, **kwargs):
        refused = admin.require_admin()
        return refused if refused is not None else view(*args, **kwargs)
    return guarded


def page(status: int = 200, error: CodebError | None = None, form=None):
    notice = request.args.get("m")
    return render_template("admin/branding.html", current=current(), error=localised(error), form=form or {},
                           notice=None, brand_notice=notice if notice in NOTICES else None,
                           breakglass=bool(g.get("superuser")), limits=limits()), status


def limits() -> dict:
    lang = g.lang
    return {"logo": i18n.format_size(lang, branding.LOGO_MAX_BYTES),
            "favicon": i18n.format_size(lang, branding.FAVICON_MAX_BYTES),
            "low": branding.MIN_SIDE, "high": branding.MAX_SIDE,
            "header": branding.HEADER_MAX, "footer": branding.FOOTER_MAX}


def localised(error: CodebError | None) -> CodebError | None:
    """The numbers of a refusal as the person's language writes them (Babel): a contrast ratio
    to two decimals, sizes in kB."""
    if error is None:
        return None
    lang, params = g.lang, dict(error.params)
    for name in ("ratio", "needed"):
        if name in params:
            params[name] = ratio_text(lang, params[name])
    for name in ("size", "limit"):
        if name in params and error.message_id.endswith("_too_big"):
            params[name] = i18n.format_size(lang, params[name])
    error.params = params
    return error


def ratio_text(lang: str, ratio: float) -> str:
    """A contrast ratio to two decimals, cut rather than rounded: 4.497 is "4.49", never a
    passing-looking "4.50"."""
    from babel.numbers import format_decimal  # noqa: PLC0415 -- Babel loads on first use (codeb.i18n)

    return format_decimal(math.floor(ratio * 100) / 100, format="0.00", locale=i18n.cldr_locale(lang)
                          or i18n.cldr_locale(i18n.DEFAULT))


@bp.get("/admin/branding")
@admins_only
def settings():
    return page()


def _upload(name: str, check):
    upload = request.files.get(name)
    if upload is None or not upload.filename:
        return None
    return check(upload.stream.read(branding.LOGO_MAX_BYTES * 4 + 1))


def submitted(before: Brand) -> Brand:
    """The brand the form asks for, every part checked, or the first refusal."""
    form = request.form
    colour_text = form.get("colour", "").strip()
    colour = None
    if colour_text and colour_text.lower() != branding.DEFAULT_ACCENT:
        colour = branding.palette(colour_text).accent
    header = branding.check_text(form.get("mail_header", ""), field="mail_header",
                                 limit=branding.HEADER_MAX, lines=1)
    footer = branding.check_text(form.get("mail_footer", ""), field="mail_footer",
                                 limit=branding.FOOTER_MAX, lines=branding.FOOTER_LINES)
    logo = _upload("logo", branding.check_logo) or before.logo
    favicon = _upload("favicon", branding.check_favicon) or before.favicon
    return Brand(colour=colour, logo=logo, favicon=favicon, mail_header=header, mail_footer=footer)


def without(before: Brand, action: str) -> Brand:
    parts = before.to_doc()
    parts.update({"remove_logo": {"logo": None}, "remove_favicon": {"favicon": None},
                  "reset_colour": {"colour": None}}[action])
    return Brand.from_doc(parts)


ACTION_NOTICES = {"save": "saved", "remove_logo": "logo_removed", "remove_favicon": "favicon_removed",
                  "reset_colour": "colour_reset"}


@bp.post("/admin/branding")
@admins_only
def save():
    action = request.form.get("action", "save")
    if action not in ACTION_NOTICES:
        return page(400, BadInput("error.bad_request"))
    before = current()
    try:
        after = submitted(before) if action == "save" else without(before, action)
    except CodebError as error:
        return page(error.status, error, form=request.form)
    branding.save(g.tenant.store, after)
    audit.append(g.tenant.store, "brand.changed", **admin.actor(), change=action,
                 colour=after.colour, logo=bool(after.logo), favicon=bool(after.favicon))
    return redirect(url_for("brand.settings", m=ACTION_NOTICES[action]), code=303)
