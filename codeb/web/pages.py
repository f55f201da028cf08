"""Pages around the sign-in: the signed-in landing page and the language switch."""

from flask import Blueprint, g, redirect, request, url_for

from ..accounts.profile import clean_language
from . import context

bp = Blueprint("pages", __name__)


def safe_local_path(target: str | None, default: str) -> str:
    """Only a path on this site may be a redirect target (DESIGN invariant 5)."""
    if (not target or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 32 for c in target)):
        return default
    return target


@bp.get("/")
def home():
    """Signed in: the office shell; otherwise the sign-in page."""
    return redirect(url_for("office.shell" if g.account else "signin.page"), code=303)


@bp.post("/language")
def language():
    chosen = clean_language(request.form.get("lang", ""), g.tenant.available_languages)
    context.session().set("lang", chosen)
    if g.account is not None:
        g.account = g.accounts.set_language(g.account.login, chosen, g.tenant.available_languages)
    return redirect(safe_local_path(request.form.get("next"), url_for("signin.page")), code=303)
