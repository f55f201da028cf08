"""WCAG contrast arithmetic against the values the WCAG 2.x definition gives."""

import pytest

from codeb.tenants.colour import contrast_ratio, parse_hex, relative_luminance


def test_black_on_white_is_21_and_same_colour_is_1():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#777777") == pytest.approx(1.0)


def test_order_does_not_matter():
    assert contrast_ratio("#1a4fd6", "#ffffff") == contrast_ratio("#ffffff", "#1a4fd6")


@pytest.mark.parametrize("a, b, expected", [
    ("#767676", "#ffffff", 4.54),   # the lightest grey that passes AA on white
    ("#777777", "#ffffff", 4.48),   # and the next one that does not
    ("#ff0000", "#ffffff", 4.00),
    ("#0000ff", "#ffffff", 8.59),
    ("#00ff00", "#000000", 15.30),
])
def test_known_pairs(a, b, expected):
    assert contrast_ratio(a, b) == pytest.approx(expected, abs=0.01)


def test_short_form_and_missing_hash_and_case():
    assert parse_hex("#FfF") == (255, 255, 255)
    assert parse_hex("1a4fd6") == (0x1a, 0x4f, 0xd6)
    assert relative_luminance("#fff") == pytest.approx(1.0)
    assert relative_luminance("#000") == 0.0


@pytest.mark.parametrize("bad", ["", "#12", "#12345", "#gggggg", "red", "#1234567", None, "rgb(0,0,0)"])
def test_not_a_colour_is_refused(bad):
    with pytest.raises(ValueError):
        parse_hex(bad)
