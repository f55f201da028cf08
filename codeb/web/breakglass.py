"""Break-glass: the one-time superuser link an operator made on the server (`codeb.accounts.breakglass`)."""

from flask import Blueprint, g, redirect, render_template, request, url_for

from .. import audit
from ..accounts import breakglass
from . import context

bp = Blueprint("breakglass", __name__)


@bp.get("/breakglass/<token>")
def page(token):
    if not breakglass.pending(g.tenant.store, token):
        return render_template("breakglass/page.html", valid=False), 400
    return render_template("breakglass/page.html", valid=True, token=token)


@bp.post("/breakglass")
def enter():
    if not breakglass.spend(g.tenant.store, request.form.get("token")):
        return render_template("breakglass/page.html", valid=False), 400
    previous = g.session
    g.session = g.sessions.start_superuser()
    g.ended_session, g.account = previous, None
    audit.append(g.tenant.store, "breakglass.used", breakglass=True, ip=context.client_ip())
    return redirect(url_for("admin.shell"), code=303)
