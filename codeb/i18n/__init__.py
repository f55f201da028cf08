"""English and German catalogues, plus languages a tenant adds (DESIGN invariant 7).

Every string a person reads has a stable id here. `translate(lang, id, **params)`
formats `{name}` placeholders; a missing id in a language falls back to English,
and a missing id in English is a programming error (the catalogue test catches
it before it ships). Tenant languages live in `<tenant>/i18n/<lang>.json` and
are loaded by `codeb.tenants`, which passes them in as `extra`.
"""

import json
import os
import re
from functools import lru_cache

SHIPPED = ("en", "de")
DEFAULT = "en"
LANG_PATTERN = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

_HERE = os.path.dirname(__file__)


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    """A shipped catalogue (read once per process: it only changes with a release)."""
    with open(os.path.join(_HERE, f"{lang}.json"), encoding="utf-8") as f:
        return json.load(f)


def translate(lang: str, message_id: str, extra: dict | None = None, **params) -> str:
    text = None
    if extra is not None:
        text = extra.get(message_id)
    if text is None and lang in SHIPPED:
        text = catalogue(lang).get(message_id)
    if text is None:
        text = catalogue(DEFAULT)[message_id]
    return text.format_map(_Params(params)) if params or "{" in text else text


class _Params(dict):
    def __missing__(self, key):  # never let a missing parameter raise in a page
        return "{" + key + "}"


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


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
        tag = tag.lower()
        if tag in available:
            return tag
        primary = tag.split("-")[0]
        if primary in available:
            return primary
    return None


def validate_catalogue(lang: str, messages) -> dict[str, str]:
    """A tenant's catalogue: known ids only, each text with exactly the English placeholders."""
    from ..errors import BadInput

    if not isinstance(lang, str) or not LANG_PATTERN.fullmatch(lang) or lang in SHIPPED:
        raise BadInput("error.language_code")
    if not isinstance(messages, dict) or not messages:
        raise BadInput("error.catalogue_shape")
    english = catalogue(DEFAULT)
    cleaned = {}
    for key, text in messages.items():
        if key not in english:
            raise BadInput("error.catalogue_unknown_key", key=str(key)[:80])
        if not isinstance(text, str) or not text.strip() or len(text) > 2000:
            raise BadInput("error.catalogue_text", key=key)
        if placeholders(text) != placeholders(english[key]) or text.count("{") != text.count("}"):
            raise BadInput("error.catalogue_placeholders", key=key,
                           expected=", ".join(sorted(placeholders(english[key]))) or "-")
        cleaned[key] = text
    return cleaned

