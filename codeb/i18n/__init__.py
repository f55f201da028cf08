"""English and German catalogues, plus languages a tenant adds (DESIGN invariant 7).

Every string a person reads has a stable id here. `translate(lang, id, **params)`
formats `{name}` placeholders; a missing id in a language falls back to English,
and a missing id in English is a programming error (the catalogue test catches
it before it ships). Tenant languages live in `<tenant>/i18n/<lang>.json`;
`codeb.tenants.languages` checks and loads them and passes them in as `extra`.
This package imports nothing of codeb: everything else may use it.
"""

import json
import re
from functools import cache
from importlib import resources

SHIPPED = ("en", "de")
DEFAULT = "en"
LANG_PATTERN = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@cache
def catalogue(lang: str) -> dict[str, str]:
    """A shipped catalogue (read once per process: it only changes with a release)."""
    return json.loads(resources.files(__name__).joinpath(f"{lang}.json").read_text(encoding="utf-8"))


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
        lowered = tag.lower()
        if lowered in available:
            return lowered
        primary = lowered.split("-")[0]
        if primary in available:
            return primary
    return None
