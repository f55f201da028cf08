"""CodeB identity: a passwordless, per-tenant OpenID Provider (see DESIGN.md and README's layout).

Importing `codeb` loads nothing else: the WSGI application is `codeb.web.app.create_app`,
the operator's commands are `codeb.cli`, and the domain packages import no web framework.
"""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
