"""Text fields from outside: Host headers, email addresses, names that become paths,
catalogue texts an admin uploads, Accept-Language, and JSON request bodies."""

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from codeb import i18n
from codeb.accounts.profile import MAX_ADDRESS, normalize_email
from codeb.errors import BadInput, InvalidName
from codeb.i18n import CatalogueError, check_messages, fill, negotiate, parse_accept_language
from codeb.store import names
from codeb.tenants.hosts import HOST_PATTERN, LOOPBACK_HOSTS, local_port, normalize_host
from codeb.web.app import JsonBodies, create_app
from tests.property.strategies import field_text, json_values

LABEL = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True)
hosts = st.lists(LABEL, min_size=1, max_size=4).map(".".join)


# -- Host headers ---------------------------------------------------------------------

@settings(max_examples=150)
@given(field_text | hosts | hosts.map(lambda h: h + ":443") | st.sampled_from(["[::1]:8000", "[", "]", ":"]))
@example("\u0130")  # "İ".lower() is two code points, one of them not ASCII
@example("[::1")
def test_a_host_header_is_a_host_name_or_bad_input(value):
    try:
        host = normalize_host(value)
    except BadInput:
        return
    assert host in LOOPBACK_HOSTS or HOST_PATTERN.fullmatch(host)
    assert normalize_host(host) == host


@settings(max_examples=100)
@given(hosts, st.integers(0, 65535))
def test_a_host_name_with_a_port_is_the_lowercased_name(host, port):
    assert normalize_host(f"{host.upper()}:{port}") == host.lower()


@settings(max_examples=100)
@given(json_values | field_text)
def test_a_configured_port_is_a_port_or_bad_input(value):
    try:
        assert 0 < local_port(value) < 65536
    except BadInput:
        pass


# -- email addresses ------------------------------------------------------------------

ATEXT = st.from_regex(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}", fullmatch=True)
addresses = st.builds(lambda local, domain: f"{local}@{domain}",
                      st.lists(ATEXT, min_size=1, max_size=3).map(".".join),
                      st.lists(LABEL, min_size=2, max_size=3).map(".".join))


@settings(max_examples=150)
@given(field_text | addresses | addresses.map(lambda a: f" {a.upper()} ") | json_values)
@example("=?utf-8?q?a=0D=0A?=@example.com")  # an encoded word: the mailer would read another address
@example("a@b@example.com")
@example("a.@example.com")
def test_an_email_is_accepted_as_itself_or_bad_input(value):
    try:
        email = normalize_email(value)
    except BadInput:
        return
    assert email == value.strip().lower()
    assert email.isascii() and len(email) <= MAX_ADDRESS and email.count("@") == 1
    assert normalize_email(email) == email


@settings(max_examples=50)
@given(addresses)
def test_a_dot_atom_address_is_accepted(address):
    if len(address) <= MAX_ADDRESS and len(address.rpartition("@")[0]) <= 64:
        assert normalize_email(address) == address.lower()


# -- names that become paths -------------------------------------------------------------

@settings(max_examples=150)
@given(st.sampled_from([names.tenant_name, names.login_name, names.segment]),
       field_text | json_values | st.sampled_from(["..", "a..b", "con", "CON.txt", "a/b", "a\\b", "c:"]))
def test_a_name_is_itself_or_invalid(check, value):
    try:
        name = check(value)
    except InvalidName:
        return
    assert name == value
    assert not any(c in name for c in '/\\:\x00') and ".." not in name and name.isascii()
    assert name.isprintable() and not name.endswith(".")


# -- catalogue texts ------------------------------------------------------------------------

ENGLISH = i18n.catalogue("en")
KEYS = st.sampled_from(sorted(ENGLISH))
TEXTS = st.lists(st.text(max_size=6) | st.sampled_from(["{", "}", "{{", "}}", "{count}", "{name}", "{0}",
                                                         "{a.b}", "{a[0]}", "{x!r}", "{x:>9}", "{:}"]),
                 max_size=8).map("".join)
messages = st.one_of(TEXTS, json_values,
                     st.dictionaries(st.sampled_from([*i18n.PLURAL_CATEGORIES, "plural", "x"]),
                                     TEXTS | json_values, max_size=7))


@settings(max_examples=80)
@given(st.sampled_from(["en", "de", "fr", "ar", "pl", "xx"]), st.dictionaries(KEYS | st.text(max_size=8), messages,
                                                                         max_size=4))
@example("en", {"error.invalid_email": "{0[}"})
@example("en", {"error.invalid_email": "{!}"})
def test_a_catalogue_is_checked_or_catalogue_error(lang, catalogue):
    try:
        checked = check_messages(lang, catalogue)
    except CatalogueError as error:
        assert error.message_id in ENGLISH
        return
    # What passed renders: every text of it fills without raising, for every id.
    for key, message in checked.items():
        for text in i18n.texts(message):
            assert isinstance(fill(text, dict.fromkeys(i18n.placeholders(ENGLISH[key]), "v")), str)


@settings(max_examples=150)
@given(TEXTS | st.text(max_size=200), st.dictionaries(st.text(max_size=6), json_values | st.text(max_size=30),
                                                     max_size=4))
def test_filling_a_text_is_bounded_by_the_text_and_its_values(text, params):
    filled = fill(text, params)
    longest = max((len(str(v)) for v in params.values()), default=0)
    assert len(filled) <= len(text) + text.count("{") * longest
    if not any("{" + name + "}" in text for name in params):
        assert filled == text


@settings(max_examples=200)
@given(field_text | st.text(max_size=60) | st.sampled_from(["de;q=nan", "de;q=inf", "en;q=-1", ";q=1"]))
def test_accept_language_is_a_list_of_tags(header):
    tags = parse_accept_language(header)
    assert all(isinstance(tag, str) and tag for tag in tags)
    assert negotiate(tags, {"en", "de"}) in (None, "en", "de")


# -- JSON request bodies ---------------------------------------------------------------------

PARSER = JsonBodies(create_app({"TESTING": True, "CODEB_DATA": "/nonexistent-property-data"}))


@settings(max_examples=150)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode())
       | st.integers(1, 200_000).map(lambda n: b"[" * n) | st.integers(1, 200_000).map(lambda n: b'{"a":' * n))
@example(b"[" * 100_000)
@example(b"\xff")
@example(b"NaN")
def test_a_json_body_is_a_value_or_value_error(body):
    try:
        PARSER.loads(body)
    except ValueError:
        pass
