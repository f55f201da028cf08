"""A tenant's own language: what an admin may upload, and that the shipped catalogues keep the same rules."""

import pytest

from codeb import i18n
from codeb.errors import BadInput
from codeb.tenants import languages


@pytest.mark.parametrize("text, refused", [
    ("Trop de tentatives {minutes:>3000000}", "error.catalogue_field"),
    ("{minutes.__class__.__mro__}", "error.catalogue_field"),
    ("{minutes[0]} minutes", "error.catalogue_field"),
    ("{minutes!r} minutes", "error.catalogue_field"),
    ("{minutes:d} minutes", "error.catalogue_field"),
    ("{} minutes {minutes}", "error.catalogue_field"),
    ("{0} minutes {minutes}", "error.catalogue_field"),
    ("{minutes} minutes {password}", "error.catalogue_unknown_field"),
    ("{minutes} minutes {{literal}}", "error.catalogue_braces"),
    ("{minutes} minutes }", "error.catalogue_braces"),
    ("{minutes minutes", "error.catalogue_braces"),
])
def test_only_plain_known_fields_are_accepted(text, refused):
    """Finding 5: a format spec, conversion, attribute, index, positional or unknown field,
    or a stray brace is refused at upload, naming the message id."""
    english = i18n.catalogue("en")["error.password_slow_down"]
    key = "error.password_slow_down"
    messages = {key: _forms(english, text)}
    with pytest.raises(BadInput) as refusal:
        languages.validate_catalogue("fr", messages)
    assert refusal.value.message_id == refused
    assert refusal.value.params["key"] == key
    assert str(refusal.value)  # the English text renders


def test_a_plain_catalogue_is_accepted():
    """Finding 5: plain fields pass."""
    cleaned = languages.validate_catalogue("fr", {"signin.title": "Se connecter",
                                                  "inbox.sent": "Si {email} peut se connecter ici, un lien arrive."})
    assert cleaned["inbox.sent"].startswith("Si {email}")


@pytest.mark.parametrize("lang", i18n.SHIPPED)
def test_shipped_catalogues_pass_the_same_checks(lang):
    """Finding 5: English and German keep the rules a tenant's upload must keep."""
    assert languages.check_messages(lang, i18n.catalogue(lang)) == i18n.catalogue(lang)


def _forms(english, text):
    # A plural message needs one text per plural form of the language (French: one, many, other).
    if isinstance(english, dict):
        return {"one": text, "many": text, "other": text}
    return text
