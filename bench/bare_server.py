"""The bare cost, served: a Flask app on waitress doing only the work CodeB cannot avoid.

`POST /token` makes the RS256 signatures of CodeB's token response, with the headers and
claims CodeB's own carry, from a 2048-bit key as CodeB's, and answers them as JSON: for a
code the ID token and the access token, for `grant_type=refresh_token` the access token
alone (CodeB's refresh grant issues no new ID token). It reads that one form field and no
client, no store.
`GET /.well-known/openid-configuration` answers a static JSON body: CodeB's discovery
document, byte for byte. Both are what "bare" means in the side-by-side figures.

    python bench/bare_server.py --port N < shape.json

The shape, one JSON document on stdin (bench/side_by_side.py sends it from a real CodeB
token response, so that this process starts while CodeB does): {"key_size", "threads",
"id_token": {"header", "claims"}, "access_token": {...}, "discovery": "<the document>"}.
"""

import argparse
import json
import secrets
import sys
import time

from flask import Flask, Response, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from waitress import serve


def create_bare_app(shape: dict) -> Flask:
    key = RSAKey.generate_key(shape["key_size"], parameters={"kid": "bare", "use": "sig", "alg": "RS256"})
    discovery = shape["discovery"].encode()
    app = Flask(__name__)

    def signed(part: dict, now: int) -> str:
        claims = {**part["claims"], "iat": now, "exp": now + 3600}
        if "jti" in claims:
            claims["jti"] = secrets.token_urlsafe(16)
        return jwt.encode(part["header"], claims, key, algorithms=["RS256"])

    @app.post("/token")
    def token():
        now = int(time.time())
        body = {"token_type": "Bearer", "access_token": signed(shape["access_token"], now),
                "expires_in": 3600, "scope": shape["access_token"]["claims"].get("scope"),
                "refresh_token": secrets.token_urlsafe(32)}
        if request.form.get("grant_type") != "refresh_token":
            body["id_token"] = signed(shape["id_token"], now)
        return Response(json.dumps(body), content_type="application/json")

    @app.get("/.well-known/openid-configuration")
    def configuration():
        return Response(discovery, content_type="application/json")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    shape = json.loads(sys.stdin.readline())
    print(f"bare server at http://127.0.0.1:{args.port}", flush=True)
    serve(create_bare_app(shape), host="127.0.0.1", port=args.port, threads=shape["threads"], ident="bare")


if __name__ == "__main__":
    main()
