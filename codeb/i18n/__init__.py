"""English and German catalogues, plus languages a tenant adds (DESIGN invariant 7).

Every string a person reads has a stable id here. A message is a text with
plain `{name}` fields, or a plural message: an object with one text per CLDR
plural category of the language (`"one"`, `"other"`, and `"zero"`, `"two"`,
`"few"`, `"many"` where the language has them) and, in English, `"plural"`
naming the parameter whose number chooses the form:

    "admin.users_found": {"plural": "count", "one": "{count} account", "other": "{count} accounts"}

`translate(lang, id, **params)` picks the form by the language's CLDR rules
(Babel) and fills the fields. The count of a plural message is written as a
number of that language (`1,234` / `1.234`); every other value is used as the
caller gives it (an extension number is not a quantity). The fields are filled
here, never by `str.format`: a text is data, even one an admin uploaded, so a
format spec, attribute, index or conversion is only literal text, a missing
parameter stays literal, and rendering cannot raise or grow beyond its text
and its values. `check_messages` is the rule every catalogue keeps (the shipped
ones in a test, a tenant's at upload). A missing id in a language falls back
to English, and a missing id in English is a programming error (the catalogue
test catches it before it ships). Tenant languages live in
`<tenant>/i18n/<lang>.json`; `codeb.tenants.languages` checks and loads them
and passes them in as `extra`. Dates and times are written in the language's
CLDR format in a time zone the caller names. Babel and zoneinfo are imported
by the functions that use them (Babel's modules cost more than this whole
package, and a process's first answer, such as the discovery document, needs
neither).
This package imports nothing of codeb: everything else may use it.
"""

import json
import re
import string
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from babel import Locale

SHIPPED = ("en", "de")
DEFAULT = "en"
DEFAULT_TIME_ZONE = "Europe/Berlin"
LANG_PATTERN = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?")
FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")
SELECTOR = "plural"  # the key of a plural message that names its counting parameter

Message = str | dict[str, str]


@cache
def catalogue(lang: str) -> dict[str, Message]:
    """A shipped catalogue (read once per process: it only changes with a release)."""
    return json.loads(resources.files(__name__).joinpath(f"{lang}.json").read_text(encoding="utf-8"))


def translate(lang: str, message_id: str, extra: dict | None = None, **params) -> str:
    english = catalogue(DEFAULT)[message_id]
    message = _lookup(lang, message_id, extra, english)
    if isinstance(message, dict):
        counter = english[SELECTOR] if isinstance(english, dict) else None
        count = params.get(counter) if counter else None
        text = message.get(plural_category(lang, count)) or message["other"]
        if counter and _is_number(count):
            params = {**params, counter: format_number(lang, count)}
    else:
        text = message
    return fill(text, params)


def message(lang: str, message_id: str, extra: dict | None = None) -> Message:
    """A message as the catalogue holds it (a text, or a plural's forms without the selector),
    for browser code that fills it in itself."""
    found = _lookup(lang, message_id, extra, catalogue(DEFAULT)[message_id])
    return {k: v for k, v in found.items() if k != SELECTOR} if isinstance(found, dict) else found


def _lookup(lang: str, message_id: str, extra: dict | None, english: Message) -> Message:
    """The language's own text if it has the English message's shape (text or plural forms)."""
    for source in (extra, catalogue(lang) if lang in SHIPPED else None):
        candidate = source.get(message_id) if source is not None else None
        if isinstance(candidate, str) and isinstance(english, str):
            return candidate
        if isinstance(candidate, dict) and isinstance(english, dict) and isinstance(candidate.get("other"), str):
            return candidate
    return english


def fill(text: str, params: dict) -> str:
    """Replace each plain `{name}` that has a parameter by its value, once; all else is literal."""
    if not params or "{" not in text:
        return text
    return FIELD.sub(lambda m: str(params[m.group(1)]) if m.group(1) in params else m.group(0), text)


def texts(message: Message) -> list[str]:
    """The texts of a message: itself, or each plural form."""
    if isinstance(message, dict):
        return [text for category, text in message.items() if category != SELECTOR]
    return [message]


def placeholders(message: Message) -> set[str]:
    return {name for text in texts(message) for name in FIELD.findall(text)}


class CatalogueError(ValueError):
    """What is wrong with one message of a catalogue: a message id of this catalogue and its parameters."""

    def __init__(self, message_id: str, **params):
        super().__init__(message_id)
        self.message_id, self.params = message_id, params


def check_messages(lang: str, messages: dict) -> dict[str, Message]:
    """A catalogue keeps the rules: known ids, the English shape, plain known fields only,
    and a plural message has exactly the language's CLDR plural categories."""
    english = catalogue(DEFAULT)
    categories = plural_categories(lang)
    checked: dict[str, Message] = {}
    for key, message in messages.items():
        if key not in english:
            raise CatalogueError("error.catalogue_unknown_key", key=str(key)[:80])
        checked[key] = _check_message(key, message, english[key], categories)
    return checked


def _check_message(key: str, message, english: Message, categories: tuple[str, ...]) -> Message:
    if isinstance(english, dict):
        if not isinstance(message, dict):
            raise CatalogueError("error.catalogue_plural", key=key, expected=", ".join(categories))
        forms = {category: text for category, text in message.items() if category != SELECTOR}
        if set(forms) != set(categories) or message.get(SELECTOR, english[SELECTOR]) != english[SELECTOR]:
            raise CatalogueError("error.catalogue_plural", key=key, expected=", ".join(categories))
        counter = english[SELECTOR]
        for category in categories:
            # Only the form "other" must show the count: "eine Minute" says it in words.
            optional = {counter} if category != "other" else set()
            _check_text(key, forms[category], placeholders(english), optional)
        return {SELECTOR: counter, **{category: forms[category] for category in categories}}
    if not isinstance(message, str):
        raise CatalogueError("error.catalogue_text", key=key)
    _check_text(key, message, placeholders(english), set())
    return message


def _check_text(key: str, text, allowed: set[str], optional: set[str]) -> None:
    if not isinstance(text, str) or not text.strip() or len(text) > 2000:
        raise CatalogueError("error.catalogue_text", key=key)
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:  # a lone brace
        raise CatalogueError("error.catalogue_braces", key=key) from None
    used = set()
    for literal, name, spec, conversion in parsed:
        if "{" in literal or "}" in literal:  # `{{` and `}}` escapes: braces are for fields only
            raise CatalogueError("error.catalogue_braces", key=key)
        if name is None:
            continue
        if not FIELD.fullmatch("{" + name + "}") or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise CatalogueError("error.catalogue_field", key=key, placeholder=shown[:80])
        if name not in allowed:
            raise CatalogueError("error.catalogue_unknown_field", key=key, placeholder="{" + name + "}",
                                 expected=_listed(allowed))
        used.add(name)
    if used | optional < allowed:
        raise CatalogueError("error.catalogue_placeholders", key=key, expected=_listed(allowed))


def _listed(names: set[str]) -> str:
    return ", ".join(sorted(names)) or "-"


# -- CLDR: plural rules, numbers, dates --------------------------------------------------

@cache
def cldr_locale(lang: str) -> "Locale | None":
    """Babel's locale for a language tag, or None if CLDR does not know it."""
    from babel import Locale, UnknownLocaleError  # noqa: PLC0415 -- Babel loads on first use (see above)

    try:
        return Locale.parse(lang, sep="-")
    except (UnknownLocaleError, ValueError):
        return None


def _locale(lang: str) -> "Locale":
    return cldr_locale(lang) or cldr_locale(DEFAULT)  # type: ignore[return-value]


def plural_categories(lang: str) -> tuple[str, ...]:
    """The CLDR plural categories of a language, in CLDR's order."""
    tags = set(_locale(lang).plural_form.tags) | {"other"}
    return tuple(category for category in PLURAL_CATEGORIES if category in tags)


def plural_category(lang: str, count) -> str:
    if not _is_number(count):
        return "other"
    return _locale(lang).plural_form(abs(count))


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def format_number(lang: str, value) -> str:
    """A number as the language writes it: 1,234.5 in English, 1.234,5 in German."""
    from babel.numbers import format_decimal  # noqa: PLC0415 -- Babel loads on first use (see above)

    return format_decimal(value, locale=_locale(lang))


SIZE_UNITS = ("kilobyte", "megabyte", "gigabyte", "terabyte")


def format_size(lang: str, size: int) -> str:
    """A number of bytes as the language writes a size: "12 bytes", "1.5 MB" / "12 Byte", "1,5 MB"."""
    from babel.units import format_unit  # noqa: PLC0415 -- Babel loads on first use (see above)

    if size < 1000:
        return format_unit(size, "digital-byte", length="long", locale=_locale(lang))
    step = 1
    while step < len(SIZE_UNITS) and size >= 1000 ** (step + 1):
        step += 1
    return format_unit(size / 1000 ** step, f"digital-{SIZE_UNITS[step - 1]}", length="short", format="#,##0.#",
                       locale=_locale(lang))


@cache
def time_zone(name: str | None) -> "ZoneInfo":
    """A zone of the IANA database (tzdata), or the default one."""
    from zoneinfo import ZoneInfo  # noqa: PLC0415 -- at first use (see above)

    try:
        return ZoneInfo(name or DEFAULT_TIME_ZONE)
    except (ValueError, KeyError, OSError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


def format_moment(lang: str, timestamp: float, zone: str | None) -> str:
    """A moment (seconds since 1970) as a date and a time of day in the zone, in the language's
    CLDR format: "Dec 2, 2026, 4:05 AM" / "02.12.2026, 04:05"."""
    from babel.dates import format_date, format_time, get_datetime_format  # noqa: PLC0415 -- see above

    moment = datetime.fromtimestamp(timestamp, UTC).astimezone(time_zone(zone))
    locale = _locale(lang)
    pattern = str(get_datetime_format("medium", locale=locale))
    return (pattern.replace("'", "").replace("{1}", format_date(moment, "medium", locale=locale))
            .replace("{0}", format_time(moment, "short", locale=locale)))


def format_day(lang: str, timestamp: float, zone: str | None) -> str:
    """The calendar day of a moment in the zone: "Dec 2, 2026" / "02.12.2026"."""
    from babel.dates import format_date  # noqa: PLC0415 -- Babel loads on first use (see above)

    return format_date(datetime.fromtimestamp(timestamp, UTC).astimezone(time_zone(zone)), "medium",
                       locale=_locale(lang))


# -- language negotiation ----------------------------------------------------------------

def parse_accept_language(header: str | None) -> list[str]:
    """Language tags from an Accept-Language header, best first (RFC 9110 §12.5.4)."""
    if not header:
        return []
    weighted = []
    for position, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and q > 0:
            weighted.append((-q, position, tag.strip().lower()))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(candidates, available) -> str | None:
    """The first candidate (or its primary subtag) that is available."""
    for tag in candidates:
        if not tag:
            continue
        lowered = tag.lower()
        if lowered in available:
            return lowered
        primary = lowered.split("-")[0]
        if primary in available:
            return primary
    return None
