"""Every message exists in English and German, with the same placeholders."""

import os
import re

import pytest

from codeb import i18n

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOURCES = [os.path.join(d, f) for d, _, files in os.walk(ROOT)
           for f in files if f.endswith((".py", ".html", ".txt"))
           if "/.venv" not in d and "/node_modules" not in d and "/tests" not in d]


def test_german_has_every_english_message_and_nothing_else():
    en, de = i18n.catalogue("en"), i18n.catalogue("de")
    assert sorted(set(en) - set(de)) == [], "messages without a German translation"
    assert sorted(set(de) - set(en)) == [], "German messages nobody uses in English"


@pytest.mark.parametrize("message_id", sorted(i18n.catalogue("en")))
def test_placeholders_match(message_id):
    assert i18n.placeholders(i18n.catalogue("en")[message_id]) == \
        i18n.placeholders(i18n.catalogue("de")[message_id]), message_id


def test_every_message_id_used_in_code_exists():
    known = set(i18n.catalogue("en"))
    used = set()
    for path in SOURCES:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        # Whole ids only: `_("admin.uv_" + value)` builds its id at run time.
        used |= set(re.findall(r'_\(\s*"([a-z_]+(?:\.[a-z0-9_]+)+)"\s*[,)]', text))
        used |= set(re.findall(r'(?:CodebError|BadInput|SignInFailed|NotFound|Conflict|AuthorizePage|'
                               r'RateLimited|SignUpRefused|InvalidName)\(\s*"([a-z_]+(?:\.[a-z0-9_]+)+)"', text))
        used |= set(re.findall(r'message_id = "([a-z_.]+)"', text))
    assert sorted(used - known) == []


def test_german_translations_are_not_english_left_over():
    en, de = i18n.catalogue("en"), i18n.catalogue("de")
    same = [k for k in en if en[k] == de[k] and len(en[k]) > 12]
    assert same == []


def test_accept_language_parsing_and_negotiation():
    assert i18n.parse_accept_language("de-CH, fr;q=0.8, en;q=0.9, *;q=0.1") == ["de-ch", "en", "fr", "*"]
    assert i18n.parse_accept_language("en;q=0, de") == ["de"]
    assert i18n.negotiate(["de-ch", "en"], ["en", "de"]) == "de"
    assert i18n.negotiate(["fr"], ["en", "de"]) is None


def test_missing_placeholder_never_raises():
    assert "{minutes}" in i18n.translate("en", "error.rate_limited")


def test_tenant_language_falls_back_to_english():
    extra = {"signin.title": "Se connecter"}
    assert i18n.translate("fr", "signin.title", extra) == "Se connecter"
    assert i18n.translate("fr", "nav.signout", extra) == "Sign out"


def test_message_ids_built_at_run_time_exist():
    """Ids composed in templates and code (`"method." + name` …) exist in both catalogues."""
    from codeb.accounts import privacy
    from codeb.signin import REGISTRY
    from codeb.web import account, admin, office

    families = (["method." + m for m in REGISTRY] + ["office." + k for k in office.OFFICE_KEYS]
                + ["admin.kind." + k for k in privacy.KINDS] + ["admin.notice." + n for n in admin.NOTICES]
                + ["account." + n for n in account.NOTICES]
                + ["admin.uv_" + v for v in ("required", "preferred", "discouraged")]
                + ["admin.attestation_" + v for v in ("none", "direct")]
                + ["admin.signup_" + v for v in ("open", "domains", "invite")]
                + ["language." + code for code in i18n.SHIPPED])
    for lang in i18n.SHIPPED:
        assert [k for k in families if k not in i18n.catalogue(lang)] == [], lang
