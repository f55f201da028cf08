"""Pages around the sign-in: the signed-in landing page and the language switch."""

from flask import Blueprint, abort, g, redirect, request, url_for

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
    chosen = request.form.get("lang", "")
    if chosen not in g.tenant.available_languages:
        abort(400)
    context.session().set("lang", chosen)
    if g.account is not None:
        with g.accounts.update(g.account.login) as doc:
            doc["language"] = chosen
    return redirect(safe_local_path(request.form.get("next"), url_for("signin.page")), code=303)
