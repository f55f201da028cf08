"""The web layer: `app.create_app` and the Flask blueprints (DESIGN: web).

Thin by intent: each view parses the request, calls the domain, renders. No
other package imports Flask.

A fresh process answers fast (IIS recycles them often): every blueprint is
registered by `create_app`, so a blueprint module imports at its top only what
is light, and a view that alone needs a heavy module (the `Provider` with
Authlib's OIDC grants and joserfc, the endpoint modules built on them) imports
it in its own body, marked `# noqa: PLC0415 -- at first use (codeb.web)`. The
domain does the same with its heavy libraries (py_webauthn, Babel,
cryptography), each at the function that uses it, and `urls.Rule` compiles a
URL builder when `url_for` first needs it. `tests/structure/test_imports.py`
names every such import of codeb, and `tests/structure/test_startup.py` what a
fresh `import app` and its first discovery document must leave unloaded.
"""
