"""Languages a tenant adds to English and German: `<tenant>/i18n/<lang>.json`.

An admin uploads a catalogue; it is accepted only with known message ids and,
in every text, exactly the placeholders of the English one, so a translated
page can never lose a value or show a raw `{name}`.
"""

from .. import i18n
from ..errors import BadInput
from ..store import layout


def validate_catalogue(lang: str, messages) -> dict[str, str]:
    """A tenant's catalogue: known ids only, each text with exactly the English placeholders."""
    if not isinstance(lang, str) or not i18n.LANG_PATTERN.fullmatch(lang) or lang in i18n.SHIPPED:
        raise BadInput("error.language_code")
    if not isinstance(messages, dict) or not messages:
        raise BadInput("error.catalogue_shape")
    english = i18n.catalogue(i18n.DEFAULT)
    cleaned = {}
    for key, text in messages.items():
        if key not in english:
            raise BadInput("error.catalogue_unknown_key", key=str(key)[:80])
        if not isinstance(text, str) or not text.strip() or len(text) > 2000:
            raise BadInput("error.catalogue_text", key=key)
        expected = i18n.placeholders(english[key])
        if i18n.placeholders(text) != expected or text.count("{") != text.count("}"):
            raise BadInput("error.catalogue_placeholders", key=key, expected=", ".join(sorted(expected)) or "-")
        cleaned[key] = text
    return cleaned


def save(tenant, lang: str, messages: dict) -> None:
    """Store a tenant catalogue and offer the language."""
    cleaned = validate_catalogue(lang, messages)
    tenant.store.write(layout.I18N, lang, doc={"messages": cleaned})
    with tenant.store.update(layout.TENANT) as doc:
        languages = doc.get("languages", list(i18n.SHIPPED))
        if lang not in languages:
            doc["languages"] = languages + [lang]


def remove(tenant, lang: str) -> None:
    if lang in i18n.SHIPPED or not i18n.LANG_PATTERN.fullmatch(lang or ""):
        raise BadInput("error.language_code")
    with tenant.store.update(layout.TENANT) as doc:
        doc["languages"] = [code for code in doc.get("languages", []) if code != lang]
    tenant.store.delete(layout.I18N, lang)


def stamp(store):
    """Changes when a catalogue is added or removed (the folder's modification time)."""
    return store.folder_stamp(layout.I18N)


def load(store) -> dict[str, dict[str, str]]:
    """Every catalogue the tenant added, by language."""
    loaded = {}
    for lang in store.list(layout.I18N):
        if i18n.LANG_PATTERN.fullmatch(lang) and lang not in i18n.SHIPPED:
            doc = store.read(layout.I18N, lang) or {}
            loaded[lang] = {k: v for k, v in doc.get("messages", {}).items() if isinstance(v, str)}
    return loaded
