"""Upstream SAML 2.0: CodeB as the service provider of a company's identity provider.

Protocol only, no Flask: the sign-in method (`codeb.signin.upstream_saml`) keeps the
request's state and calls these. pysaml2 builds the AuthnRequest (HTTP-Redirect,
signed with the tenant's SP key, RSA-SHA256) and parses the Response (HTTP-POST),
its XML signatures checked by xmlsec1 against the certificates of the imported IdP
metadata only, never a key the message brings. pysaml2 checks the issue instant,
the status, `Conditions` (NotBefore/NotOnOrAfter within SKEW, our entity id in the
audience) and that a signature covers the assertion (on it, or on the response
around it), which holds the NameID and attributes read here: both are taken
from the element pysaml2 verified, never found anew in the document.

What plain pysaml2 leaves open is checked here (the tests show pysaml2 alone accepting
a wrong Recipient, a missing Destination and a replay: tests/unit/test_upstream_saml.py):

- a wrapped copy: the document holds exactly one assertion, no element ID twice,
  no DTD or entity (defusedxml), at most MAX_RESPONSE bytes;
- `Destination`: required, exactly our ACS URL (pysaml2 takes a response without one);
- the bearer `SubjectConfirmationData`: `Recipient` exactly our ACS URL (pysaml2
  accepts any recipient), `InResponseTo` the request this browser sent,
  `NotOnOrAfter` not passed;
- the response's and the assertion's `Issuer`: this upstream's IdP;
- replay: `Assertion.id` and its expiry are returned for the caller's one-time
  cache (the tenant's transient store, until the assertion expires).

A NameID is read as the whole text of its element: a comment inside it does not cut
it short (the parser joins the text around it; the tests hold it to that). An
encrypted assertion is decrypted with the tenant's SP key first. A Response that
answers no request (IdP-initiated) is taken only by a client made `unsolicited`, for
an upstream whose admin allows it, and must then name no request anywhere.
"""

import base64
import binascii
import calendar
import datetime
import hashlib
import os
import shutil
from collections import Counter
from xml.etree import ElementTree

import defusedxml.ElementTree as SafeTree
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, SAMLError
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.mdstore import InMemoryMetaData
from saml2.metadata import entity_descriptor, sign_entity_descriptor
from saml2.response import StatusError
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, SCM_BEARER, NameID
from saml2.sigver import SignatureError, security_context, verify_redirect_signature
from saml2.time_util import str_to_time
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from ..store import layout
from ..store.cache import Memo
from .checks import UpstreamError, check_url
from .fetch import get_bytes

SKEW = 60  # seconds of clock difference allowed
UNVERIFIED = "error.upstream.bad_token"  # what the person reads when a response fails a check
MAX_RESPONSE = 256 * 1024  # bytes of a decoded SAMLResponse
MAX_METADATA = 512 * 1024
KEY_SIZE = 2048
CERT_DAYS = 3650
SP_KEYS = (layout.KEYS, layout.SAML_KEYS)
SAML_NS = "{urn:oasis:names:tc:SAML:2.0:assertion}"
ASSERTION, ENCRYPTED_ASSERTION, CONDITIONS = (SAML_NS + n for n in ("Assertion", "EncryptedAssertion", "Conditions"))
RESPONSE = "{urn:oasis:names:tc:SAML:2.0:protocol}Response"
# The xmlsec1 program: CODEB_XMLSEC1 names it (on Windows, where deploy\Initialize-CodebHost.ps1
# sets it), else the one on the PATH (Debian: the xmlsec1 package).
XMLSEC = os.environ.get("CODEB_XMLSEC1") or shutil.which("xmlsec1")

# What an IdP's AuthnContextClassRef says of the sign-in, as RFC 8176 `amr` values.
AUTHN_CONTEXTS = {
    "urn:oasis:names:tc:SAML:2.0:ac:classes:Password": "pwd",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport": "pwd",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:X509": "sc",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard": "sc",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI": "sc",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos": "wia",
    "urn:federation:authentication:windows": "wia",
    "http://schemas.microsoft.com/claims/multipleauthn": "mfa",
    "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/windows": "wia",
}

# Attribute names the products use for what CodeB reads, tried after the admin's own.
WELL_KNOWN = {
    "email": ("email", "mail", "emailaddress", "urn:oid:0.9.2342.19200300.100.1.3",
              "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"),
    "name": ("displayName", "name", "urn:oid:2.16.840.1.113730.3.1.241",
             "http://schemas.microsoft.com/identity/claims/displayname",
             "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"),
    "groups": ("groups", "memberOf", "urn:oid:1.3.6.1.4.1.5923.1.5.1.1",
               "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"),
    "login": ("uid", "sAMAccountName", "urn:oid:0.9.2342.19200300.100.1.1",
              "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"),
}


# -- the IdP's metadata --------------------------------------------------------------

def fetch_metadata(url: str) -> str:
    check_url(url, "the metadata URL")
    body = get_bytes(url, "the metadata", accept="application/samlmetadata+xml, application/xml, text/xml",
                     limit=MAX_METADATA)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise UpstreamError("error.upstream.saml_metadata", "the metadata is not UTF-8") from None


def read_metadata(xml: str, entity_id: str | None = None) -> dict:
    """What the upstream keeps of an IdP's metadata: its entity id, the HTTP-Redirect sign-on
    URL (and single-logout URL, if it has one) and the signing certificates (SHA-256
    fingerprint, subject, expiry). `entity_id` picks one IdP of an aggregate; UpstreamError
    when the metadata does not describe one."""
    if not isinstance(xml, str) or not xml.strip() or len(xml.encode("utf-8")) > MAX_METADATA:
        raise UpstreamError("error.upstream.saml_metadata", "no metadata, or too large")
    try:
        SafeTree.fromstring(xml.encode("utf-8"))  # refuses DTDs and entities before pysaml2 reads it
        store = InMemoryMetaData(None, metadata=xml)
        store.load()
    except Exception as error:  # noqa: BLE001 -- pysaml2 and the XML parser raise many kinds for broken input
        raise UpstreamError("error.upstream.saml_metadata", f"unreadable metadata: {type(error).__name__}") from None

    def sign_on(eid, service="single_sign_on_service"):
        return store.service(eid, "idpsso_descriptor", service, BINDING_HTTP_REDIRECT)

    idps = [eid for eid in list(store.keys()) if sign_on(eid)]
    if entity_id is not None:
        idps = [eid for eid in idps if eid == entity_id]
    if len(idps) != 1:
        raise UpstreamError("error.upstream.saml_metadata",
                            f"{len(idps)} identity providers with HTTP-Redirect sign-on in the metadata")
    chosen = idps[0]
    sso_url = sign_on(chosen)[0]["location"]
    check_url(sso_url, "the sign-on URL")
    logout = sign_on(chosen, "single_logout_service")
    slo_url = check_url(logout[0]["location"], "the logout URL") if logout else None
    try:
        bodies = [body for _, body in store.certs(chosen, "idpsso", "signing")]
    except (KeyError, TypeError, ValueError):  # pysaml2 on a KeyDescriptor without a certificate
        bodies = []
    certs = [_certificate(body) for body in bodies]
    if not certs:
        raise UpstreamError("error.upstream.saml_metadata", "no signing certificate in the metadata")
    return {"entity_id": chosen, "sso_url": sso_url, "slo_url": slo_url, "certs": certs}


def _certificate(body: str) -> dict:
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode("".join(body.split())))
    except (ValueError, binascii.Error):
        raise UpstreamError("error.upstream.saml_metadata", "a signing certificate is not one") from None
    return {"sha256": cert.fingerprint(hashes.SHA256()).hex(":").upper(),
            "subject": cert.subject.rfc4514_string()[:200],
            "not_after": int(cert.not_valid_after_utc.timestamp())}


# -- the tenant's service-provider key -----------------------------------------------

def sp_keys(store) -> dict:
    """The tenant's SAML key and certificate (`keys/saml.json`), made at first use: signs the
    AuthnRequests and the SP metadata, and decrypts encrypted assertions. Kept parsed per
    process by the file's stamp: every SAML request asks for it."""
    doc = store.derived(_sp_keys, *SP_KEYS, make=dict)
    if doc is None:
        with store.lock(*SP_KEYS):
            if not store.exists(*SP_KEYS):
                store.write(*SP_KEYS, doc=_new_sp_keys(store.clock()))
        doc = store.derived(_sp_keys, *SP_KEYS, make=dict)
    return doc


_sp_keys = Memo(size=256)


def _new_sp_keys(now: float) -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CodeB SAML service provider")])
    start = datetime.datetime.fromtimestamp(now, datetime.UTC) - datetime.timedelta(days=1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=CERT_DAYS)).sign(key, hashes.SHA256()))
    return {
        "key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode("ascii"),
        "cert": cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        "created": int(now),
    }


# -- pysaml2's client, per upstream ----------------------------------------------------

# Clients by (SP entity id, upstream), revalidated by what they were made of: parsing the
# metadata and loading the keys cost more than a sign-in's other work.
_clients = Memo(size=256)


def client(store, upstream: dict, *, entity_id: str, acs_url: str, slo_url: str | None = None,
           unsolicited: bool = False) -> Saml2Client:
    """pysaml2's SP for this tenant host and upstream; `unsolicited`: one that takes a Response
    answering no request (IdP-initiated), for upstreams that allow it. UpstreamError when
    xmlsec1 is missing."""
    if not XMLSEC or not shutil.which(XMLSEC):
        raise UpstreamError("error.upstream.bad_discovery", "xmlsec1 is not installed (CODEB_XMLSEC1, PATH)")
    keys = sp_keys(store)
    key_file = store.file_for_tool(layout.KEYS, "saml-sp.key.pem", keys["key"].encode("ascii"))
    cert_file = store.file_for_tool(layout.KEYS, "saml-sp.crt.pem", keys["cert"].encode("ascii"))
    made_of = hashlib.sha256("\n".join((upstream["idp_metadata"], keys["cert"], acs_url, slo_url or "")).encode()
                             ).hexdigest()
    found = _clients.get((entity_id, upstream["id"], unsolicited), made_of)
    if isinstance(found, Saml2Client):
        return found
    config = SPConfig()
    config.load({
        "entityid": entity_id,
        "xmlsec_binary": XMLSEC,
        "key_file": key_file,
        "cert_file": cert_file,
        "encryption_keypairs": [{"key_file": key_file, "cert_file": cert_file}],
        "metadata": {"inline": [upstream["idp_metadata"]]},
        "accepted_time_diff": SKEW,
        "allow_unknown_attributes": True,
        "delete_tmpfiles": True,
        "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [(acs_url, BINDING_HTTP_POST)],
                          "single_logout_service": [(slo_url, BINDING_HTTP_REDIRECT)] if slo_url else []},
            "authn_requests_signed": True,
            "want_assertions_signed": False,
            "want_response_signed": False,
            "want_assertions_or_response_signed": True,
            "allow_unsolicited": unsolicited,
            "only_use_keys_in_metadata": True,
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
            "name_id_format_allow_create": True,
        }},
    })
    made = Saml2Client(config)
    _clients.put((entity_id, upstream["id"], unsolicited), made_of, made)
    return made


def sp_metadata(sp: Saml2Client) -> str:
    """This tenant's SP metadata for the upstream, signed with its SAML key."""
    descriptor = entity_descriptor(sp.config)
    context = security_context(sp.config)
    _, signed = sign_entity_descriptor(descriptor, None, context)
    return str(signed)


def authn_request(sp: Saml2Client, upstream: dict, *, relay_state: str) -> tuple[str, str]:
    """(the request's ID, the URL that takes the browser to the IdP with the signed request)."""
    request_id, info = sp.prepare_for_authenticate(
        entityid=upstream["idp_entity_id"], relay_state=relay_state, binding=BINDING_HTTP_REDIRECT,
        sign=True, sigalg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256, response_binding=BINDING_HTTP_POST)
    return request_id, dict(info["headers"])["Location"]


def logout_request(sp: Saml2Client, upstream: dict, *, name_id: str, name_id_format: str, session_index,
                   relay_state: str) -> tuple[str, str]:
    """(the LogoutRequest's ID, the URL that takes the browser to the IdP's single logout with it,
    signed for HTTP-Redirect): SAML profiles §4.4, SP-initiated."""
    request_id, request = sp.create_logout_request(
        upstream["slo_url"], upstream["idp_entity_id"], name_id=NameID(text=name_id, format=name_id_format or None),
        session_indexes=[session_index] if session_index else None, sign=False)
    info = sp.apply_binding(BINDING_HTTP_REDIRECT, str(request), upstream["slo_url"], relay_state, sign=True,
                            sigalg=SIG_RSA_SHA256)
    return request_id, dict(info["headers"])["Location"]


def logout_confirmed(sp: Saml2Client, upstream: dict, query: dict, *, request_id: str) -> bool:
    """Whether the IdP's LogoutResponse (the HTTP-Redirect query) confirms our request: its query
    signed by a certificate of the IdP's metadata, status Success, InResponseTo our request.
    Our session ended before the browser left, so this only decides what the page says."""
    if not all(isinstance(query.get(k), str) and query[k] for k in ("SAMLResponse", "SigAlg", "Signature")):
        return False
    message = {k: query[k] for k in ("SAMLResponse", "RelayState", "SigAlg", "Signature") if k in query}
    try:
        certs = [body for _, body in sp.metadata.certs(upstream["idp_entity_id"], "idpsso", "signing")]
        if not any(verify_redirect_signature(message, sp.sec.sec_backend, cert=cert) for cert in certs):
            return False
        answer = sp.parse_logout_request_response(query["SAMLResponse"], BINDING_HTTP_REDIRECT)
    except Exception:  # noqa: BLE001 -- pysaml2 raises many kinds for a broken answer: not confirmed
        return False
    return answer is not None and answer.response.in_response_to == request_id and answer.status_ok()


# -- the response ------------------------------------------------------------------------

def verify_response(sp: Saml2Client, upstream: dict, encoded, *, request_id: str | None, acs_url: str,
                    now: float) -> dict:
    """The identity a SAMLResponse (base64, as POSTed) asserts, once every check passed.
    `request_id` None: a sign-in started at the IdP, whose Response and confirmation must then
    name no request at all (and a client made with `unsolicited`). The identity:
    `name_id`, `name_id_format`, `attributes` (name → values, by Name and FriendlyName),
    `assertion_id`, `expires` (when the assertion may no longer be used), `amr`."""
    xml = _decoded(encoded)
    _check_shape(xml)
    try:
        answer = sp.parse_authn_request_response(encoded, BINDING_HTTP_POST,
                                                 outstanding={request_id: "codeb"} if request_id else {})
    except StatusError as error:  # the IdP answered, but not with a sign-in (denied, cancelled …)
        raise UpstreamError("error.upstream.denied", f"status: {type(error).__name__}: {str(error)[:200]}") from None
    except (SAMLError, SignatureError, ValueError, TypeError, AttributeError) as error:
        why = (_times_refused(xml, now) if "Condition" in str(error) else None) \
            or f"{type(error).__name__}: {str(error)[:200]}"
        raise UpstreamError(UNVERIFIED, f"pysaml2: {why}") from None
    except Exception as error:  # noqa: BLE001 -- pysaml2 raises bare Exceptions for failed conditions (audience, time)
        raise UpstreamError(UNVERIFIED, f"pysaml2: {str(error)[:200]}") from None
    if answer is None:
        raise UpstreamError(UNVERIFIED, "pysaml2 found no valid response")
    response, assertion = answer.response, answer.assertion
    if response.destination != acs_url:
        raise UpstreamError(UNVERIFIED, f"Destination is {str(response.destination)[:120]!r}")
    if response.in_response_to != request_id:
        raise UpstreamError(UNVERIFIED, "InResponseTo is not our request")
    idp = upstream["idp_entity_id"]
    if assertion.issuer is None or assertion.issuer.text != idp or (
            response.issuer is not None and response.issuer.text != idp):
        raise UpstreamError(UNVERIFIED, "the issuer is not this identity provider")
    expires = _check_bearer(assertion, request_id=request_id, acs_url=acs_url, now=now)
    conditions_end = assertion.conditions.not_on_or_after if assertion.conditions else None
    if conditions_end:
        expires = min(expires, _seconds(conditions_end))
    subject = assertion.subject
    if subject is None or subject.name_id is None or not (subject.name_id.text or "").strip():
        raise UpstreamError(UNVERIFIED, "the assertion has no NameID")
    name_id = subject.name_id.text.strip()
    if len(name_id) > 256:
        raise UpstreamError(UNVERIFIED, "the NameID is longer than 256 characters")
    return {
        "name_id": name_id, "name_id_format": subject.name_id.format or "",
        "attributes": _attributes(assertion), "assertion_id": assertion.id,
        "expires": int(expires), "amr": _amr(assertion), "session_index": _session_index(assertion),
    }


def unsolicited_issuer(encoded) -> str | None:
    """The Issuer of a Response that answers no request (IdP-initiated), read unverified only to
    find which upstream's checks apply; None for anything else."""
    try:
        root = SafeTree.fromstring(_decoded(encoded))
    except (UpstreamError, ElementTree.ParseError, ValueError):
        return None
    issuer = root.find(f"{SAML_NS}Issuer")
    if root.tag != RESPONSE or root.get("InResponseTo") is not None or issuer is None:
        return None
    return (issuer.text or "").strip() or None


def _decoded(encoded) -> bytes:
    if not isinstance(encoded, str) or not encoded or len(encoded) > MAX_RESPONSE * 4 // 3 + 4:
        raise UpstreamError(UNVERIFIED, "no SAMLResponse, or too large")
    try:
        return base64.b64decode(encoded, validate=False)
    except (ValueError, binascii.Error):
        raise UpstreamError(UNVERIFIED, "the SAMLResponse is not base64") from None


def _check_shape(xml: bytes) -> None:
    """One Response holding exactly one assertion, no ID twice (a signed element copied
    next to a forged one), no DTD: before pysaml2 reads anything of it."""
    try:
        root = SafeTree.fromstring(xml)
    except (ElementTree.ParseError, ValueError) as error:  # defusedxml's refusals are ValueErrors
        raise UpstreamError(UNVERIFIED, f"not acceptable XML: {type(error).__name__}") from None
    if root.tag != RESPONSE:
        raise UpstreamError(UNVERIFIED, "not a SAML Response")
    assertions = [e for e in root.iter() if e.tag in (ASSERTION, ENCRYPTED_ASSERTION)]
    if len(assertions) != 1:
        raise UpstreamError(UNVERIFIED, f"{len(assertions)} assertions in the response")
    ids = Counter(e.get("ID") for e in root.iter() if e.get("ID") is not None)
    if any(count > 1 for count in ids.values()):
        raise UpstreamError(UNVERIFIED, "an element ID appears twice")


def _times_refused(xml: bytes, now: float) -> str | None:
    """Why pysaml2's "Condition not OK" was: the assertion's time window against ours, read
    from the unverified document for the audit log only (nothing is trusted from it)."""
    conditions = SafeTree.fromstring(xml).find(f".//{ASSERTION}/{CONDITIONS}")
    if conditions is None:
        return None
    try:
        if conditions.get("NotOnOrAfter") and _seconds(conditions.get("NotOnOrAfter")) + SKEW <= now:
            return f"the assertion expired at {conditions.get('NotOnOrAfter')}"
        if conditions.get("NotBefore") and _seconds(conditions.get("NotBefore")) - SKEW > now:
            return f"the assertion is valid only from {conditions.get('NotBefore')} (the clocks differ?)"
    except ValueError:
        return "the assertion's times are not xs:dateTime"
    return None


def _check_bearer(assertion, *, request_id: str | None, acs_url: str, now: float) -> float:
    """A bearer confirmation for us (SAML profiles §4.1.4.2, §4.1.4.3): Recipient our ACS,
    InResponseTo our request, NotOnOrAfter to come. Returns that NotOnOrAfter."""
    for confirmation in assertion.subject.subject_confirmation if assertion.subject else ():
        data = confirmation.subject_confirmation_data
        if confirmation.method != SCM_BEARER or data is None:
            continue
        if data.recipient != acs_url:
            raise UpstreamError(UNVERIFIED, f"Recipient is {str(data.recipient)[:120]!r}")
        if data.in_response_to != request_id:
            raise UpstreamError(UNVERIFIED, "the confirmation's InResponseTo is not our request")
        if not data.not_on_or_after or _seconds(data.not_on_or_after) + SKEW <= now:
            raise UpstreamError(UNVERIFIED, "the confirmation has expired or has no NotOnOrAfter")
        if data.not_before and _seconds(data.not_before) - SKEW > now:
            raise UpstreamError(UNVERIFIED, "the confirmation is not valid yet")
        return _seconds(data.not_on_or_after)
    raise UpstreamError(UNVERIFIED, "no bearer subject confirmation")


def _seconds(moment: str) -> float:
    """An xs:dateTime of the assertion as seconds since 1970 (pysaml2 parses it, in UTC)."""
    return calendar.timegm(str_to_time(moment))


def _attributes(assertion) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for statement in assertion.attribute_statement:
        for attribute in statement.attribute:
            values = [v.text.strip() for v in attribute.attribute_value if isinstance(v.text, str) and v.text.strip()]
            for key in {attribute.name, attribute.friendly_name} - {None, ""}:
                found.setdefault(key, []).extend(values)
    return found


def _session_index(assertion) -> str | None:
    """The IdP's session the sign-in belongs to: what its single logout ends."""
    indexes = [s.session_index for s in assertion.authn_statement if s.session_index]
    return indexes[0][:200] if indexes else None


def _amr(assertion) -> list[str]:
    methods = set()
    for statement in assertion.authn_statement:
        context = statement.authn_context
        ref = context.authn_context_class_ref.text if context and context.authn_context_class_ref else None
        if ref and ref.strip() in AUTHN_CONTEXTS:
            methods.add(AUTHN_CONTEXTS[ref.strip()])
    return sorted(methods)


def attribute(identity: dict, configured: str, what: str) -> list[str]:
    """The values of the attribute the admin named for `what` (email, name, groups, login), else of
    the first well-known name the assertion carries; for the email, else the NameID when its
    format says it is an address."""
    attributes = identity["attributes"]
    for name in (configured, *WELL_KNOWN[what]):
        if attributes.get(name):
            return attributes[name]
    if what == "email" and identity["name_id_format"] == NAMEID_FORMAT_EMAILADDRESS:
        return [identity["name_id"]]
    return []

