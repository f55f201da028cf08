"""A small OpenID provider on loopback for tests that need an upstream in process (the sign-in
contract test): discovery, JWKS and a token endpoint, its ID tokens signed by joserfc.

The end-to-end tests use a real CodeB tenant as the upstream instead
(tests/signin/test_upstream_oidc.py); this one only lets a test decide who signed in
without walking another sign-in: `authenticate(authorization_url, sub, email)` plays the
upstream's sign-in page and returns the authorization response it would redirect with.
With `client_keys` (a key set) its token endpoint knows the client by private_key_jwt
(RFC 7523 §3): it takes only an assertion those keys verify, about this client, for this
endpoint, unexpired and never seen before, else answers invalid_client; `assertions` keeps
the header and claims of each one it took.
"""

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class UpstreamIdP:
    def __init__(self, client_id: str = "codeb", clock=None):
        self.client_id = client_id
        self.clock = clock
        self.key = RSAKey.generate_key(2048, parameters={"kid": "idp-1", "use": "sig", "alg": "RS256"})
        self.codes: dict[str, dict] = {}
        self.client_keys: KeySet | None = None
        self.assertions: list[dict] = []
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = urlsplit(self.path).path
                if path == "/.well-known/openid-configuration":
                    self.answer(200, idp.metadata())
                elif path == "/jwks":
                    self.answer(200, KeySet([idp.key]).as_dict(private=False))
                else:
                    self.answer(404, {"error": "not_found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if idp.client_keys is not None and not idp.client_authenticated(form):
                    self.answer(401, {"error": "invalid_client"})
                    return
                grant = idp.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "").encode()
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
                if urlsplit(self.path).path != "/token" or grant is None or grant["challenge"] != challenge:
                    self.answer(400, {"error": "invalid_grant"})
                    return
                self.answer(200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                                  "expires_in": 300, "id_token": idp.id_token(grant)})

            def answer(self, status: int, doc: dict):
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def metadata(self) -> dict:
        return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"], "authorization_response_iss_parameter_supported": True,
                **({"token_endpoint_auth_methods_supported": ["private_key_jwt"]}
                   if self.client_keys is not None else {})}

    def client_authenticated(self, form: dict) -> bool:
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            return False
        try:
            token = jwt.decode(form["client_assertion"], self.client_keys, algorithms=["RS256"])
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.client_id}, sub={"essential": True, "value": self.client_id},
                aud={"essential": True, "value": f"{self.issuer}/token"}, exp={"essential": True},
                jti={"essential": True}).validate(token.claims)
        except (JoseError, ValueError):
            return False
        if any(seen["claims"]["jti"] == token.claims["jti"] for seen in self.assertions):
            return False
        self.assertions.append({"header": token.header, "claims": token.claims})
        return True

    def now(self) -> int:
        return int(self.clock() if self.clock else time.time())

    def id_token(self, grant: dict) -> str:
        claims = {"iss": self.issuer, "aud": self.client_id, "sub": grant["sub"], "nonce": grant["nonce"],
                  "iat": self.now(), "exp": self.now() + 300, "email": grant["email"], "email_verified": True,
                  "name": grant.get("name") or grant["email"], "amr": ["pwd", "mfa", "not-a-method"]}
        return jwt.encode({"alg": "RS256", "kid": "idp-1"}, claims, self.key)

    def authenticate(self, authorization_url: str, *, sub: str, email: str) -> dict:
        """What the upstream sends the browser back with once `sub` signed in there."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorization_url).query).items()}
        assert query["client_id"] == self.client_id and query["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"sub": sub, "email": email, "nonce": query["nonce"], "challenge": query["code_challenge"]}
        return {"state": query["state"], "code": code, "iss": self.issuer}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
