"""Colour arithmetic for the look and a tenant's brand: WCAG 2.x contrast.

Pure functions, no Flask, no store, no messages: a caller that takes a
colour from a person turns the ValueError into its own BadInput. `contrast_ratio` is what the design
tokens are checked with (tests/unit/test_contrast.py) and what a tenant's
primary colour is measured against before it is accepted.
"""

import re

_HEX = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def parse_hex(value: str) -> tuple[int, int, int]:
    """`#rgb` or `#rrggbb` (the `#` optional) as an (r, g, b) triple of 0–255."""
    match = _HEX.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"not a #rgb or #rrggbb colour: {value!r}")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(hex_colour: str) -> float:
    """WCAG relative luminance, 0 (black) to 1 (white)."""
    r, g, b = parse_hex(hex_colour)
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(hex_a: str, hex_b: str) -> float:
    """WCAG contrast ratio of two colours, 1.0 (same) to 21.0 (black on white).

    Symmetric: the order of the two colours does not matter. AA asks 4.5 for
    body text, 3.0 for large text and for focus rings and control borders.
    """
    la, lb = relative_luminance(hex_a), relative_luminance(hex_b)
    lighter, darker = max(la, lb), min(la, lb)
    return (lighter + 0.05) / (darker + 0.05)
