"""A company's SAML identity provider for the tests, in two kinds.

`ForgingIdP` writes each Response from a template and signs it with xmlsec1, as an
IdP does, so that a test can change any part of it as an attacker or a broken IdP
would: Recipient, Destination, times, issuer, a comment in the NameID, a signed
assertion wrapped beside a forged one. `Pysaml2IdP` is pysaml2's own IdP
(`saml2.server.Server`), a real peer that reads CodeB's SP metadata and verifies
its signed AuthnRequest before it answers.
"""

import base64
import datetime
import html
import secrets
import shutil
import subprocess
import tempfile
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"


def key_and_cert(folder: Path, name: str) -> tuple[Path, Path, str]:
    """A fresh RSA key and self-signed certificate as PEM files; also the certificate's base64 body."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    key_file, cert_file = folder / f"{name}.key", folder / f"{name}.crt"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file, base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def moment(offset: float = 0) -> str:
    at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=offset)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def metadata_of(entity_id: str, sso_url: str, cert_body: str, slo_url: str | None = None) -> str:
    logout = (f'<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
              f'Location="{slo_url}"/>' if slo_url else "")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert_body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    {logout}<md:NameIDFormat>{EMAIL_FORMAT}</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso_url}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""


def signature_template(element_id: str) -> str:
    """An enveloped RSA-SHA256 signature of the element, for xmlsec1 to fill in."""
    return (
        '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        f'<ds:Reference URI="#{element_id}"><ds:Transforms>'
        '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
        '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
        '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>'
        "</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>")


PASSWORD_CONTEXT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"


class ForgingIdP:
    def __init__(self, folder: Path, entity_id="https://idp.corp.example/saml", sso_url="https://idp.corp.example/sso"):
        self.folder, self.entity_id, self.sso_url = folder, entity_id, sso_url
        self.key_file, self.cert_file, self.cert_body = key_and_cert(folder, "idp")

    def metadata(self) -> str:
        return metadata_of(self.entity_id, self.sso_url, self.cert_body)

    def assertion(self, *, request_id, acs, audience, name_id="alice@corp.example", name_id_xml=None,
                  attributes=None, recipient=None, issuer=None, assertion_id=None, not_before=-60,
                  not_on_or_after=300, confirmation_end=300, authn_context=PASSWORD_CONTEXT,
                  signed=True) -> tuple[str, str]:
        """(an Assertion's XML, its ID); `*_xml` replaces a part verbatim, offsets are seconds from now."""
        aid = assertion_id or "_a" + secrets.token_hex(16)
        attributes = {"email": [name_id], "displayName": ["Alice Example"], "groups": ["staff"]} \
            if attributes is None else attributes
        statements = "".join(
            f'<saml:Attribute Name="{name}">'
            + "".join(f"<saml:AttributeValue>{value}</saml:AttributeValue>" for value in values)
            + "</saml:Attribute>" for name, values in attributes.items())
        in_response = f' InResponseTo="{request_id}"' if request_id else ""
        xml = (f'<saml:Assertion xmlns:saml="{SAML}" ID="{aid}" Version="2.0" IssueInstant="{moment()}">'
               f"<saml:Issuer>{issuer or self.entity_id}</saml:Issuer>"
               + (signature_template(aid) if signed else "") +
               "<saml:Subject>"
               + (name_id_xml or f'<saml:NameID Format="{EMAIL_FORMAT}">{name_id}</saml:NameID>') +
               '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
               f'<saml:SubjectConfirmationData NotOnOrAfter="{moment(confirmation_end)}" '
               f'Recipient="{recipient or acs}"{in_response}/></saml:SubjectConfirmation></saml:Subject>'
               f'<saml:Conditions NotBefore="{moment(not_before)}" NotOnOrAfter="{moment(not_on_or_after)}">'
               f"<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>"
               "</saml:Conditions>"
               f'<saml:AuthnStatement AuthnInstant="{moment()}" SessionIndex="_s{secrets.token_hex(8)}">'
               f"<saml:AuthnContext><saml:AuthnContextClassRef>{authn_context}</saml:AuthnContextClassRef>"
               "</saml:AuthnContext></saml:AuthnStatement>"
               + (f"<saml:AttributeStatement>{statements}</saml:AttributeStatement>" if statements else "") +
               "</saml:Assertion>")
        return xml, aid

    def response(self, *, request_id, acs, audience, destination=None, sign="assertion", assertion_xml=None,
                 issuer=None, **assertion) -> str:
        """A whole Response (XML). `sign`: "assertion", "response", "both" or None."""
        rid = "_r" + secrets.token_hex(16)
        if assertion_xml is None:
            make = self.signed_assertion if sign in ("assertion", "both") else self.unsigned_assertion
            assertion_xml, _ = make(request_id=request_id, acs=acs, audience=audience, issuer=issuer, **assertion)
        in_response = f' InResponseTo="{request_id}"' if request_id else ""
        dest = "" if destination is False else f' Destination="{destination or acs}"'
        xml = (f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{rid}" Version="2.0" '
               f'IssueInstant="{moment()}"{dest}{in_response}>'
               f"<saml:Issuer>{issuer or self.entity_id}</saml:Issuer>"
               + (signature_template(rid) if sign in ("response", "both") else "") +
               '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
               + assertion_xml + "</samlp:Response>")
        if sign in ("response", "both"):
            xml = self.sign(xml, "urn:oasis:names:tc:SAML:2.0:protocol:Response")
        return xml

    def sign(self, xml: str, id_attr: str) -> str:
        """Fill in the first empty signature template with xmlsec1 (the element's ID named by `id_attr`)."""
        source = self.folder / f"unsigned-{secrets.token_hex(4)}.xml"
        source.write_text(xml, encoding="utf-8")
        try:
            done = subprocess.run(["xmlsec1", "--sign", "--privkey-pem", f"{self.key_file},{self.cert_file}",
                                   "--id-attr:ID", id_attr, str(source)], capture_output=True, check=True)
        finally:
            source.unlink()
        return done.stdout.decode("utf-8")

    def unsigned_assertion(self, **assertion) -> tuple[str, str]:
        return self.assertion(signed=False, **assertion)

    def signed_assertion(self, **assertion) -> tuple[str, str]:
        """An assertion signed on its own, to be placed in a Response (or wrapped) by hand."""
        xml, aid = self.assertion(**assertion)
        wrapper = f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_w">{xml}</samlp:Response>'
        signed = self.sign(wrapper, "urn:oasis:names:tc:SAML:2.0:assertion:Assertion")
        start = signed.index("<saml:Assertion")
        end = signed.index("</saml:Assertion>") + len("</saml:Assertion>")
        return signed[start:end], aid


def encode(xml: str) -> str:
    return base64.b64encode(xml.encode("utf-8")).decode("ascii")


def request_of(url: str) -> dict:
    """The query of the redirect that carries an AuthnRequest (SAMLRequest, RelayState, SigAlg, Signature)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def authn_request_of(url: str) -> ElementTree.Element:
    """The AuthnRequest a redirect carries (HTTP-Redirect binding: DEFLATE, then base64)."""
    return ElementTree.fromstring(zlib.decompress(base64.b64decode(request_of(url)["SAMLRequest"]), -15))


class Pysaml2IdP:
    """pysaml2's IdP with its own key, knowing the SP by the SP metadata CodeB serves."""

    def __init__(self, folder: Path, sp_metadata: str, entity_id="https://idp.corp.example/pysaml2",
                 sso_url="https://idp.corp.example/pysaml2/sso", slo_url="https://idp.corp.example/pysaml2/slo"):
        from saml2 import BINDING_HTTP_REDIRECT
        from saml2.config import IdPConfig
        from saml2.server import Server

        self.entity_id, self.sso_url, self.slo_url = entity_id, sso_url, slo_url
        key_file, cert_file, self.cert_body = key_and_cert(folder, "pysaml2-idp")
        config = IdPConfig()
        config.load({
            "entityid": entity_id, "key_file": str(key_file), "cert_file": str(cert_file),
            "metadata": {"inline": [sp_metadata]},
            "service": {"idp": {
                "endpoints": {"single_sign_on_service": [(sso_url, BINDING_HTTP_REDIRECT)],
                              "single_logout_service": [(slo_url, BINDING_HTTP_REDIRECT)]},
                "want_authn_requests_signed": True,
                "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None,
                                       "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"}},
            }},
        })
        self.server = Server(config=config)

    def metadata(self) -> str:
        return metadata_of(self.entity_id, self.sso_url, self.cert_body, self.slo_url)

    def log_out(self, redirect_url: str) -> str:
        """Verify the signed LogoutRequest of CodeB's redirect as the IdP does, and answer it: the
        URL of CodeB's single-logout service with a signed LogoutResponse (HTTP-Redirect)."""
        from saml2 import BINDING_HTTP_REDIRECT
        from saml2.xmldsig import SIG_RSA_SHA256

        query = request_of(redirect_url)
        parsed = self.server.parse_logout_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT,
                                                  relay_state=query.get("RelayState"), sigalg=query["SigAlg"],
                                                  signature=query["Signature"])
        response = self.server.create_logout_response(parsed.message, [BINDING_HTTP_REDIRECT], sign=False)
        _, destination = self.server.pick_binding("single_logout_service", [BINDING_HTTP_REDIRECT], "spsso",
                                                  parsed.message)
        info = self.server.apply_binding(BINDING_HTTP_REDIRECT, str(response), destination, query.get("RelayState", ""),
                                         response=True, sign=True, sigalg=SIG_RSA_SHA256)
        return dict(info["headers"])["Location"]

    def answer(self, redirect_url: str, *, email: str, name: str = "Alice Example", groups=("staff",),
               encrypt_for: str | None = None) -> dict:
        """Verify the AuthnRequest of CodeB's redirect as the IdP does, and answer it: the form
        fields to POST to the ACS it names (SAMLResponse, RelayState) and that URL. `encrypt_for`:
        the SP's certificate (base64 body) to encrypt the assertion to, in a signed response."""
        from saml2 import BINDING_HTTP_REDIRECT
        from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID

        query = request_of(redirect_url)
        parsed = self.server.parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT,
                                                 relay_state=query.get("RelayState"), sigalg=query["SigAlg"],
                                                 signature=query["Signature"])
        request = parsed.message
        acs = request.assertion_consumer_service_url
        response = self.server.create_authn_response(
            {"email": [email], "displayName": [name], "groups": list(groups)},
            request.id, acs, request.issuer.text,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=email),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
            sign_assertion=True, sign_response=bool(encrypt_for), encrypt_assertion=bool(encrypt_for),
            encrypt_cert_assertion=encrypt_for)
        return {"acs": acs, "SAMLResponse": encode(str(response)), "RelayState": query.get("RelayState", "")}


PYSAML2_USERS = {"alice": {"email": "alice@corp.example", "name": "Alice Example", "groups": ["staff"]}}
AUTOSUBMIT_JS = b"document.getElementById('to-sp').submit();\n"


def _page(title: str, body: str) -> bytes:
    return (f'<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"</head>\n<body><main>\n<h1>{html.escape(title)}</h1>\n{body}\n</main></body>\n</html>\n").encode()


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'


class Pysaml2IdPServer:
    """A `Pysaml2IdP` served over HTTP on 127.0.0.1 (a daemon thread), as a company's IdP site:

        GET  /sso?SAMLRequest=…  pysaml2 verifies CodeB's signed AuthnRequest (400 if it fails) and
                                 shows "Sign in as" with the configured users
        POST /login              user + handle from that page: pysaml2's answer, an HTTP-POST form
                                 to the ACS that /autosubmit.js submits
        GET  /autosubmit.js      that script (the pages have no inline script)

    Its entity id is as given, its sign-on URL `http://127.0.0.1:<port>/sso`. `users`: login →
    {email, name, groups}. `folder` holds its key (a temporary one of its own when None)."""

    def __init__(self, sp_metadata: str, *, folder: Path | None = None, users: dict | None = None,
                 entity_id: str = "https://idp.corp.example/pysaml2"):
        self.users = PYSAML2_USERS if users is None else users
        self._own_folder = None if folder is not None else Path(tempfile.mkdtemp(prefix="pysaml2-idp-"))
        self.folder = folder if folder is not None else self._own_folder
        self.pending: dict[str, str] = {}  # handle -> the redirect URL that carried the AuthnRequest
        self._lock = threading.Lock()
        served = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = urlsplit(self.path).path
                if path == "/sso":
                    served._sign_in_page(self)
                elif path == "/autosubmit.js":
                    self.reply(200, AUTOSUBMIT_JS, "text/javascript; charset=utf-8")
                else:
                    self.reply(404, b"not found\n")

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode("utf-8")).items()}
                if urlsplit(self.path).path == "/login":
                    served._login(self, form)
                else:
                    self.reply(404, b"not found\n")

            def reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8"):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        try:
            self.idp = Pysaml2IdP(self.folder, sp_metadata, entity_id=entity_id, sso_url=f"{self.base}/sso")
        except BaseException:
            self.server.server_close()
            self._remove_folder()
            raise
        self.entity_id, self.sso_url = self.idp.entity_id, self.idp.sso_url
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def metadata(self) -> str:
        return self.idp.metadata()

    def _sign_in_page(self, handler) -> None:
        from saml2 import BINDING_HTTP_REDIRECT

        redirect_url = self.base + handler.path
        query = request_of(redirect_url)
        try:
            parsed = self.idp.server.parse_authn_request(
                query["SAMLRequest"], BINDING_HTTP_REDIRECT, relay_state=query.get("RelayState"),
                sigalg=query["SigAlg"], signature=query["Signature"])
            if parsed is None:
                raise ValueError("no request")
        except Exception as error:
            handler.reply(400, f"bad AuthnRequest: {type(error).__name__}\n".encode())
            return
        handle = secrets.token_urlsafe(24)
        with self._lock:
            self.pending[handle] = redirect_url
        options = "\n".join(
            f'<option value="{html.escape(login)}">{html.escape(user["name"])} ({html.escape(user["email"])})</option>'
            for login, user in self.users.items())
        handler.reply(200, _page("Sign in to Corp", f"""<form method="post" action="/login">
{_hidden("handle", handle)}
<label for="user">Sign in as</label>
<select name="user" id="user">
{options}
</select>
<button type="submit" id="idp-signin">Sign in</button>
</form>"""), "text/html; charset=utf-8")

    def _login(self, handler, form: dict) -> None:
        with self._lock:
            redirect_url = self.pending.pop(form.get("handle", ""), None)
        user = self.users.get(form.get("user", ""))
        if redirect_url is None or user is None:
            handler.reply(400, b"unknown sign-in or user\n")
            return
        try:
            answer = self.idp.answer(redirect_url, email=user["email"], name=user["name"],
                                     groups=tuple(user.get("groups") or ()))
        except Exception as error:
            handler.reply(500, f"no answer: {type(error).__name__}\n".encode())
            return
        handler.reply(200, _page("Signed in", f"""<form id="to-sp" method="post" action="{html.escape(answer["acs"])}">
{_hidden("SAMLResponse", answer["SAMLResponse"])}
{_hidden("RelayState", answer["RelayState"])}
<button type="submit" id="idp-continue">Continue</button>
</form>
<script src="/autosubmit.js" defer></script>"""), "text/html; charset=utf-8")

    def _remove_folder(self) -> None:
        if self._own_folder is not None:
            shutil.rmtree(self._own_folder, ignore_errors=True)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        self._remove_folder()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    @classmethod
    def federate(cls, served: str, tenant, *, folder: Path | None = None, name: str = "Corp SAML",
                 domains=("corp.example",), users: dict | None = None,
                 entity_id: str = "https://idp.corp.example/pysaml2") -> tuple[dict, "Pysaml2IdPServer"]:
        """Federate `tenant` (served at `served`) with a new server, as an admin would: the upstream
        (`name`, claiming `domains`) first made from a throwaway ForgingIdP's metadata so that its id
        (part of CodeB's SP entity id) exists, CodeB's SP metadata fetched over HTTP, the server built
        from it, then the upstream given the server's metadata and company sign-in switched on.
        The upstream (as stored now) and the running server; `stop()` it after."""
        import requests

        from codeb import signin
        from codeb.store import layout
        from codeb.upstreams import Upstreams
        from codeb.upstreams.saml import read_metadata

        upstreams = Upstreams(tenant.store)
        throwaway = Path(tempfile.mkdtemp(prefix="forging-idp-"))
        try:
            upstream = upstreams.add_saml(name=name, metadata=ForgingIdP(throwaway).metadata(), domains=list(domains))
        finally:
            shutil.rmtree(throwaway, ignore_errors=True)
        sp_metadata = requests.get(f"{served}/signin/saml/metadata/{upstream['id']}", timeout=10)
        assert sp_metadata.status_code == 200, sp_metadata.text[:500]
        real = cls(sp_metadata.text, folder=folder, users=users, entity_id=entity_id)
        try:
            found = read_metadata(real.metadata())
            with tenant.store.update(layout.UPSTREAMS, upstream["id"]) as doc:
                doc.update(idp_metadata=real.metadata(), idp_entity_id=found["entity_id"],
                           sso_url=found["sso_url"], certs=found["certs"])
            signin.switch_on(tenant.store, "saml")
        except BaseException:
            real.stop()
            raise
        return upstreams.get(upstream["id"]), real


class MetadataServer:
    """The IdP's metadata at a URL on loopback; `xml` is what it serves now."""

    def __init__(self, xml: str):
        self.xml = xml
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = server.xml.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/samlmetadata+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/federationmetadata.xml"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def stop(self):
        self.http.shutdown()
        self.http.server_close()
