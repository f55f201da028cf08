"""The headers every response carries unless it set its own (DESIGN invariant 5), and the
CORS headers of the endpoints browser-based relying parties read.

Pure: `defaults` says which headers a response lacks, from facts about it, so the Flask
pipeline (`codeb.web.app.security_headers`) and the public documents' fast path
(`codeb.web.documents`) send the same ones.
"""

SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    # Links carry one-time secrets: never leak a URL through Referer.
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
IMG_SRC = "img-src 'self' data:"  # a page may add the origin of an image it shows (context.allow_image_from)
CONNECT_SRC = "connect-src 'self'"  # the office shell adds its tenant's SIP server (codeb.web.office)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; manifest-src 'self'; font-src 'self'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
HSTS = ("Strict-Transport-Security", "max-age=31536000")
NO_STORE = ("Cache-Control", "no-store")

# Browser-based relying parties on other origins read these; none uses cookies.
CORS_ENDPOINTS = frozenset({"/.well-known/openid-configuration", "/jwks.json", "/token", "/userinfo", "/revoke"})
# A browser app may send DPoP proofs (RFC 9449) and must read the nonce and the challenge.
CORS_HEADERS = (("Access-Control-Allow-Origin", "*"),
                ("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP"),
                ("Access-Control-Expose-Headers", "DPoP-Nonce, WWW-Authenticate"))


def defaults(present: set[str], *, https: bool, static: bool, lang: str | None = None,
             form_targets=(), image_sources=()) -> list[tuple[str, str]]:
    """The (name, value) pairs to add to a response whose header names, lower-cased, are
    `present`: the CSP (with the image origins and form targets this page allows), the other
    security headers, HSTS over https, `no-store` unless it is a static file, and the
    language of an HTML page (`lang`)."""
    wanted = [("Content-Security-Policy", policy(image_sources=image_sources, form_targets=form_targets)),
              *SECURITY_HEADERS]
    if https:
        wanted.append(HSTS)
    if not static:
        wanted.append(NO_STORE)
    if lang:
        wanted.append(("Content-Language", lang))
    return [(name, value) for name, value in wanted if name.lower() not in present]


def policy(*, image_sources=(), form_targets=(), connect_sources=()) -> str:
    """The Content-Security-Policy of a page: CSP with the image origins, form targets and
    connection origins (a WebSocket server the page's script talks to) it allows besides its own."""
    images, targets, connects = (" ".join(sorted(found)) for found in (image_sources, form_targets, connect_sources))
    csp = CSP.replace(IMG_SRC, f"{IMG_SRC} {images}") if images else CSP
    csp = csp.replace(CONNECT_SRC, f"{CONNECT_SRC} {connects}") if connects else csp
    return csp + (" " + targets if targets else "")
