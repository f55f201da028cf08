"""The bare cost, served: a Flask app on waitress doing only the work CodeB cannot avoid.

`POST /token` makes the RS256 signatures of CodeB's token response, with the headers and
claims CodeB's own carry, from a 2048-bit key as CodeB's, and answers them as JSON: for a
code the ID token and the access token, for `grant_type=refresh_token` the access token
alone (CodeB's refresh grant issues no new ID token). It reads that one form field and no
client, no store. `POST /token/durable` answers the same after the one durable write
CodeB's refresh makes (the grant's chain, codeb.oidc.grants.RefreshChain): under an exclusive
file lock, the chain's document read, its successor written to a new file, fsynced and
renamed over it, in plain Python, one document per serving thread (one per chain in flight).
`GET /.well-known/openid-configuration` and `GET /userinfo` answer static JSON bodies:
CodeB's discovery document and the claims CodeB's userinfo gave, byte for byte, reading
no token. Both are what "bare" means in the side-by-side figures.

    python bench/bare_server.py --port N < shape.json

The shape, one JSON document on stdin (bench/side_by_side.py sends it from a real CodeB
token response, so that this process starts while CodeB does): {"key_size", "threads",
"id_token": {"header", "claims"}, "access_token": {...}, "discovery": "<the document>",
"userinfo": "<the claims>",
"folder": "<where the durable endpoint keeps its chains>"}.
"""

import argparse
import fcntl
import hashlib
import json
import os
import secrets
import sys
import tempfile
import threading
import time

from flask import Flask, Response, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from waitress import serve


def create_bare_app(shape: dict) -> Flask:
    key = RSAKey.generate_key(shape["key_size"], parameters={"kid": "bare", "use": "sig", "alg": "RS256"})
    discovery = shape["discovery"].encode()
    claims = shape["userinfo"].encode()
    app = Flask(__name__)

    def signed(part: dict, now: int) -> str:
        claims = {**part["claims"], "iat": now, "exp": now + 3600}
        if "jti" in claims:
            claims["jti"] = secrets.token_urlsafe(16)
        return jwt.encode(part["header"], claims, key, algorithms=["RS256"])

    folder = shape.get("folder") or tempfile.mkdtemp(prefix="bare-chains-")
    os.makedirs(folder, exist_ok=True)

    def rotate(new: str, now: int) -> None:
        path = os.path.join(folder, f"chain-{threading.get_ident()}.json")
        with open(path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                with open(path, "rb") as f:
                    doc = json.loads(f.read())
            except FileNotFoundError:
                doc = {"current": "", "spent": []}
            doc = {"current": hashlib.sha256(new.encode()).hexdigest(), "scope": "openid profile",
                   "spent": [*doc["spent"], [doc["current"], now]][-4:], "expires": now + 30 * 86400}
            tmp = f"{path}.{secrets.token_hex(6)}.tmp"
            with open(tmp, "xb") as f:
                f.write(json.dumps(doc).encode())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)

    @app.post("/token/durable")
    def durable_token():
        response = token()
        rotate(json.loads(response.get_data())["refresh_token"], int(time.time()))
        return response

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

    @app.get("/userinfo")
    def userinfo():
        return Response(claims, content_type="application/json", headers={"Cache-Control": "no-store"})

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
