"""The design tokens of static/codeb.css meet WCAG 2.2 AA in the light and the dark theme.

The tokens are read from the stylesheet itself (its first `:root` block, and the `:root`
inside `@media (prefers-color-scheme: dark)`), so a colour changed there is checked here.
"""

import re
from pathlib import Path

import pytest

from codeb.tenants.colour import contrast_ratio

CSS = (Path(__file__).resolve().parents[2] / "static" / "codeb.css").read_text(encoding="utf-8")
TOKEN = re.compile(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{3,6})\s*;")


def _block_after(marker: str, start: int = 0) -> str:
    at = CSS.index(marker, start)
    open_at = CSS.index("{", at)
    depth, i = 0, open_at
    while True:
        depth += {"{": 1, "}": -1}.get(CSS[i], 0)
        if depth == 0:
            return CSS[open_at + 1:i]
        i += 1


def themes() -> dict[str, dict[str, str]]:
    light = _block_after(":root {")
    dark_media = _block_after("@media (prefers-color-scheme: dark) {")
    dark = dark_media[dark_media.index(":root"):]
    return {"light": dict(TOKEN.findall(light)), "dark": dict(TOKEN.findall(dark))}


THEMES = themes()
TEXT = 4.5        # WCAG 1.4.3: body text
NON_TEXT = 3.0    # WCAG 1.4.11 and 2.4.13: focus rings, control borders, an element's edge

PAIRS = [
    # (foreground, background, minimum): what a person reads, on what
    *[(fg, bg, TEXT) for fg in ("ink", "muted", "accent", "accent-hover", "error") for bg in ("paper", "card")],
    ("ink", "raised", TEXT), ("muted", "raised", TEXT), ("accent", "raised", TEXT),
    ("accent-ink", "accent", TEXT), ("accent-ink", "accent-hover", TEXT), ("error-ink", "error", TEXT),
    ("accent", "accent-soft", TEXT),
    # The alerts and badges: the message in ink and the kind's colour (icon, title, badge) on the tint.
    *[(fg, kind + "-bg", TEXT) for kind in ("error", "warning", "success", "info") for fg in ("ink", kind)],
    ("muted", "info-bg", TEXT),
    # Focus ring against everything it is drawn on.
    *[("focus", bg, NON_TEXT) for bg in ("paper", "card", "raised", "accent-soft", "error-bg")],
    # Form controls' borders against the card and the page (WCAG 1.4.11).
    ("line-strong", "card", NON_TEXT), ("line-strong", "paper", NON_TEXT),
    # The office terminal: its text, prompt and hint on its background, and its edge on the page.
    ("terminal-ink", "terminal-bg", TEXT), ("terminal-prompt", "terminal-bg", TEXT),
    ("terminal-muted", "terminal-bg", TEXT),
    ("terminal-prompt", "terminal-bg", NON_TEXT),  # the prompt colour is the input's focus ring there
]


@pytest.mark.parametrize("theme", sorted(THEMES))
@pytest.mark.parametrize("fg, bg, minimum", PAIRS, ids=[f"{a} on {b}" for a, b, _ in PAIRS])
def test_contrast(theme, fg, bg, minimum):
    tokens = THEMES[theme]
    ratio = contrast_ratio(tokens[fg], tokens[bg])
    assert ratio >= minimum, f"{theme}: --{fg} {tokens[fg]} on --{bg} {tokens[bg]} is {ratio:.2f}:1, needs {minimum}"


@pytest.mark.parametrize("theme", sorted(THEMES))
def test_the_terminal_is_set_apart_from_the_page(theme):
    """Issue 11: in the dark theme the terminal was 1.02:1 against the page, no edge at all.
    Either its background or its drawn edge stands out from the page and the card by 3:1."""
    tokens = THEMES[theme]
    for page in ("paper", "card"):
        edge = max(contrast_ratio(tokens["terminal-bg"], tokens[page]),
                   contrast_ratio(tokens["terminal-edge"], tokens[page]))
        assert edge >= NON_TEXT, f"{theme}: the terminal's edge on --{page} is {edge:.2f}:1"


def test_every_colour_token_is_defined_in_both_themes():
    """Except `--fixed-<theme>-<token>`: a theme's colour whatever the viewer's theme (the
    branding preview shows both), never redefined and always equal to that theme's token."""
    assert len(THEMES["light"]) >= 25
    fixed = {name for name in THEMES["light"] if name.startswith("fixed-")}
    assert fixed and not fixed & set(THEMES["dark"]), "a fixed token redefined in the dark theme"
    for name in fixed:
        theme, token = name.removeprefix("fixed-").split("-", 1)
        assert THEMES["light"][name] == THEMES[theme][token], name
    assert sorted(set(THEMES["light"]) - fixed - set(THEMES["dark"])) == [], "tokens the dark theme does not redefine"
    assert sorted(set(THEMES["dark"]) - set(THEMES["light"])) == [], "dark tokens without a light value"


def test_no_colour_outside_the_tokens_except_in_data_uris():
    """A colour written into a rule instead of a token would escape this test and the dark theme
    (the whole sheet, the areas' own sections included)."""
    body = CSS
    for block in (_block_after(":root {"), _block_after("@media (prefers-color-scheme: dark) {")):
        body = body.replace(block, "")
    body = re.sub(r'url\("data:[^"]*"\)', "", body)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    assert re.findall(r"#[0-9a-fA-F]{3,8}\b", body) == []


def test_the_sheet_parses_as_the_browser_reads_it():
    """A comment that closes early (a "*/" inside it) swallows the rule after it: the light
    theme's tokens were once lost that way. Every comment closes where it is meant to."""
    text = re.sub(r'"[^"\n]*"', '""', CSS)
    depth = 0
    for piece in re.split(r"/\*.*?\*/", text, flags=re.S):
        assert "*/" not in piece, "a comment closes twice: " + piece[:80]
        for char in piece:
            depth += {"{": 1, "}": -1}.get(char, 0)
            assert depth >= 0, "a closing brace without its rule"
    assert depth == 0
    assert CSS.lstrip().startswith("/*") and CSS.index(":root {") < CSS.index("@media (prefers-color-scheme: dark)")
