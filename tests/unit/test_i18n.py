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
    from codeb.upstreams import TOKEN_AUTH
    from codeb.web import account, admin, office

    families = (["method." + m for m in REGISTRY] + ["office." + k for k in office.OFFICE_KEYS]
                + ["admin.kind." + k for k in privacy.KINDS] + ["admin.notice." + n for n in admin.NOTICES]
                + ["account." + n for n in account.NOTICES]
                + ["admin.uv_" + v for v in ("required", "preferred", "discouraged")]
                + ["admin.attestation_" + v for v in ("none", "direct")]
                + ["admin.signup_" + v for v in ("open", "domains", "invite")]
                + ["admin.token_auth." + m for m in (*TOKEN_AUTH, "auto")]
                + ["rooms." + k for k in office.ROOMS_KEYS] + ["meetings." + k for k in office.MEETINGS_KEYS]
                + ["guests." + k for k in office.GUESTS_KEYS]
                + ["admin.guests.state_" + state for state in ("active", "ended", "removed")]
                + ["admin.guests.kind." + kind for kind in ("channel", "meeting")]
                + ["language." + code for code in i18n.SHIPPED])
    for lang in i18n.SHIPPED:
        assert [k for k in families if k not in i18n.catalogue(lang)] == [], lang


def test_tenant_text_never_expands_reaches_internals_or_raises():
    """Finding 5: a tenant text is not a str.format template: a format spec, an attribute,
    an index or a conversion stays literal text, and nothing raises."""
    hostile = {
        "error.invalid_host": "{host:>3000000}",
        "inbox.sent": "{email.__class__.__mro__} {email!r} {email[0]}",
        "error.login_taken": "{login:d}",
        "error.email_taken": "{} {0} {email",
    }
    assert i18n.translate("fr", "error.invalid_host", hostile, host="h") == "{host:>3000000}"
    sent = i18n.translate("fr", "inbox.sent", hostile, email="a@example.com")
    assert "class" not in sent.replace("__class__", "") and "object" not in sent
    assert sent == "{email.__class__.__mro__} {email!r} {email[0]}"
    assert i18n.translate("fr", "error.login_taken", hostile, login="bob") == "{login:d}"
    assert i18n.translate("fr", "error.email_taken", hostile, email="x") == "{} {0} {email"


def test_plain_fields_are_filled_once_and_a_missing_one_stays_literal():
    """Finding 5: the renderer fills plain `{name}` fields itself; a value is never read as a template."""
    extra = {"inbox.sent": "{email} {email} {other}"}
    assert i18n.translate("fr", "inbox.sent", extra, email="{email}") == "{email} {email} {other}"
    assert i18n.translate("fr", "inbox.sent", extra, email="a@b") == "a@b a@b {other}"


@pytest.mark.parametrize("lang, count, expected", [
    ("en", 1, "1 account"), ("en", 0, "0 accounts"), ("en", 2, "2 accounts"), ("en", 12345, "12,345 accounts"),
    ("de", 1, "1 Konto"), ("de", 0, "0 Konten"), ("de", 12345, "12.345 Konten"),
])
def test_counts_take_the_cldr_plural_form_and_the_languages_digits(lang, count, expected):
    """Finding 26: "1 accounts" and "1 Konten" are gone: Babel's CLDR rules choose the form."""
    assert i18n.translate(lang, "admin.users_found", count=count) == expected


def test_waiting_times_are_one_minute_or_minutes_never_minute_s():
    """Finding 26: "15 minute(s)" becomes "15 minutes", and one is "1 minute" / "1 Minute"."""
    assert "wait 1 minute and" in i18n.translate("en", "error.rate_limited", minutes=1)
    assert "wait 15 minutes and" in i18n.translate("en", "error.rate_limited", minutes=15)
    assert "warten Sie 1 Minute und" in i18n.translate("de", "error.rate_limited", minutes=1)
    assert "für 15 Minuten gesperrt" in i18n.translate("de", "error.password_locked", minutes=15)


@pytest.mark.parametrize("lang", i18n.SHIPPED)
def test_no_shipped_text_writes_a_plural_by_hand(lang):
    """Finding 26: no text hedges a plural with "(s)" or "(n)"; plural messages say it in CLDR forms."""
    hedged = [key for key, message in i18n.catalogue(lang).items()
              for text in i18n.texts(message) if re.search(r"\w\((s|n|en|e)\)", text)]
    assert hedged == []


def test_a_tenant_language_uses_its_own_plural_categories():
    """Finding 26: a tenant's Russian gets the CLDR forms one, few, many (21 is "one" there)."""
    forms = {"one": "{count} аккаунт", "few": "{count} аккаунта", "many": "{count} аккаунтов",
             "other": "{count} аккаунта"}
    extra = {"admin.users_found": forms}
    assert [i18n.translate("ru", "admin.users_found", extra, count=n) for n in (1, 3, 5, 21)] == \
        ["1 аккаунт", "3 аккаунта", "5 аккаунтов", "21 аккаунт"]


def test_moments_are_written_in_the_language_and_the_zone():
    """Finding 26: a stored moment reads as a local date and time of the language, not a UTC ISO string."""
    moment = 1768519800  # 2026-01-15 23:30 UTC, already the 16th in Berlin
    assert i18n.format_moment("en", moment, "Europe/Berlin").replace("\u202f", " ") == "Jan 16, 2026, 12:30 AM"
    assert i18n.format_moment("de", moment, "Europe/Berlin") == "16.01.2026, 00:30"
    assert i18n.format_moment("de", moment, "America/New_York") == "15.01.2026, 18:30"


def test_sizes_are_written_in_the_language():
    """Finding 26: file sizes are numbers of the language with a unit, not raw byte counts."""
    assert i18n.format_size("en", 1) == "1 byte" and i18n.format_size("en", 999) == "999 bytes"
    assert i18n.format_size("de", 1_500_000) == "1,5 MB" and i18n.format_size("en", 1_500_000) == "1.5 MB"
