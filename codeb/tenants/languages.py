"""Languages a tenant adds to English and German: `<tenant>/i18n/<lang>.json`.

An admin uploads a catalogue; it is accepted only if it keeps the rules every
catalogue keeps (`i18n.check_messages`): known message ids, plain `{name}`
fields and exactly those of the English text, no format spec, conversion,
attribute or index, and for a plural message one text per CLDR plural category
of the language. So a translated page can never lose a value, show a raw
`{name}`, or be made to expand or fail by its texts.
"""

from .. import i18n
from ..errors import BadInput
from ..store import layout


def validate_catalogue(lang: str, messages) -> dict[str, i18n.Message]:
    """A tenant's catalogue, checked message by message; the first fault is refused by its id."""
    if not isinstance(lang, str) or not i18n.LANG_PATTERN.fullmatch(lang) or lang in i18n.SHIPPED:
        raise BadInput("error.language_code")
    if i18n.cldr_locale(lang) is None:  # its plural rules, numbers and dates would be guesses
        raise BadInput("error.language_cldr", lang=lang)
    if not isinstance(messages, dict) or not messages:
        raise BadInput("error.catalogue_shape")
    return check_messages(lang, messages)


def check_messages(lang: str, messages: dict) -> dict[str, i18n.Message]:
    """`i18n.check_messages`, its fault as a `BadInput` for the admin's page."""
    try:
        return i18n.check_messages(lang, messages)
    except i18n.CatalogueError as fault:
        raise BadInput(fault.message_id, **fault.params) from None


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


def load(store) -> dict[str, dict[str, i18n.Message]]:
    """Every catalogue the tenant added, by language (texts and plural forms; rendering never
    trusts them further: `i18n.translate` fills plain fields only)."""
    loaded = {}
    for lang in store.list(layout.I18N):
        if i18n.LANG_PATTERN.fullmatch(lang) and lang not in i18n.SHIPPED:
            doc = store.read(layout.I18N, lang) or {}
            loaded[lang] = {k: v for k, v in doc.get("messages", {}).items() if _is_message(v)}
    return loaded


def _is_message(value) -> bool:
    return isinstance(value, str) or (isinstance(value, dict) and all(isinstance(t, str) for t in value.values()))
