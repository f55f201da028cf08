"""A tenant's brand without Flask: which colours and images are accepted, and why others are not."""

import os
import struct
import zlib

import pytest

from codeb.errors import BadInput
from codeb.tenants import branding
from codeb.tenants.colour import contrast_ratio

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "brand")


def fixture(name: str) -> bytes:
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def png(width: int = 64, height: int = 32, *, rows: bytes | None = None) -> bytes:
    """A real PNG (truecolour, 8 bit) of one colour, built by the spec (PNG §5, §11.2.2)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = rows if rows is not None else (b"\x00" + b"\x0b\x57\xd0" * width) * height
    return (branding.PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# -- colours -------------------------------------------------------------------------------

@pytest.mark.parametrize("colour", ["#0b57d0", "#1a7f37", "#b3261e", "#000000", "#5b21b6", "#0B57D0", "#036"])
def test_a_colour_that_reads_on_white_and_has_a_dark_shade_is_accepted(colour):
    palette = branding.palette(colour)
    assert palette.accent == branding.normalize_colour(colour)
    for surface in ("#ffffff", "#f5f7fa"):
        assert contrast_ratio(palette.accent, surface) >= 4.5
    for surface in branding.DARK_SURFACES:
        assert contrast_ratio(palette.dark_accent, surface) >= 4.5
    assert contrast_ratio(palette.dark_accent, palette.dark_ink) >= 4.5


@pytest.mark.parametrize("colour", ["#ffcc00", "#8ab4f8", "#ffffff", "#4f9dff", "#ff6600"])
def test_a_colour_that_fails_aa_on_white_is_refused_with_its_ratio(colour):
    with pytest.raises(BadInput) as refused:
        branding.palette(colour)
    assert refused.value.message_id == "brand.error.colour_light"
    assert refused.value.field == "colour"
    assert refused.value.params["ratio"] == pytest.approx(
        min(contrast_ratio(colour, "#ffffff"), contrast_ratio(colour, "#f5f7fa")))
    assert refused.value.params["ratio"] < 4.5 and refused.value.params["needed"] == 4.5


def test_the_dark_shade_is_the_colour_mixed_toward_white_only_as_far_as_needed():
    palette = branding.palette("#0b57d0")
    assert palette.dark_accent != "#0b57d0"
    step_back = branding.mix("#0b57d0", "#ffffff", 0)
    assert branding.worst_contrast(step_back, branding.DARK_SURFACES) < 4.5
    assert branding.palette("#000000").dark_accent != "#000000"


@pytest.mark.parametrize("value", ["0b57d0x", "blue", "#12345", "#gggggg", "", "#0b57d0; color: red", None])
def test_anything_but_a_hex_colour_is_refused(value):
    with pytest.raises(BadInput) as refused:
        branding.palette(value)
    assert refused.value.message_id == "brand.error.colour_format"


# -- images --------------------------------------------------------------------------------

@pytest.mark.parametrize("name, mimetype, size", [("logo.png", "image/png", (48, 48)),
                                                  ("logo.jpg", "image/jpeg", (16, 16)),
                                                  ("logo.webp", "image/webp", (16, 16))])
def test_real_png_jpeg_and_webp_logos_are_accepted_with_their_size(name, mimetype, size):
    image = branding.check_logo(fixture(name))
    assert (image.mimetype, (image.width, image.height)) == (mimetype, size)


def test_a_built_png_is_measured_from_its_header():
    image = branding.check_logo(png(200, 50))
    assert (image.width, image.height, image.mimetype) == (200, 50, "image/png")


def test_a_real_ico_favicon_is_accepted_and_is_no_logo():
    assert branding.check_favicon(fixture("favicon.ico")).mimetype == "image/x-icon"
    with pytest.raises(BadInput) as refused:
        branding.check_logo(fixture("favicon.ico"))
    assert refused.value.message_id == "brand.error.logo_type"


GARBAGE = bytes(range(7, 256)) * 8  # fixed, so that every test worker collects the same cases
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize("data, refused", [
    (SVG, "brand.error.logo_svg"),
    (b"\n  <svg onload='alert(1)'/>", "brand.error.logo_svg"),
    (branding.PNG_SIGNATURE + GARBAGE[:2000], "brand.error.logo_corrupt"),
    (png()[:60], "brand.error.logo_corrupt"),                                 # cut off
    (png()[:-12] + b"garbage!" * 3, "brand.error.logo_corrupt"),               # no IEND
    (png(rows=b"\x00" * 7), "brand.error.logo_corrupt"),                      # data shorter than the header says
    (png()[:19] + b"\x41" + png()[20:], "brand.error.logo_corrupt"),          # width changed: CRC no longer matches
    (b"\xff\xd8\xff" + GARBAGE[:500], "brand.error.logo_corrupt"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 " + GARBAGE[:20], "brand.error.logo_corrupt"),
    (fixture("logo.gif"), "brand.error.logo_type"),
    (b"MZ\x90\x00" + GARBAGE[:100], "brand.error.logo_type"),
    (b"", "brand.error.logo_type"),
    (png(8, 8), "brand.error.logo_dimensions"),
    (png(3000, 20), "brand.error.logo_dimensions"),
    (png(900, 100), "brand.error.logo_dimensions"),                           # a banner, 9:1
    (png(64, 64) + b"\x00" * 250_000, "brand.error.logo_too_big"),
], ids=["svg", "svg-fragment", "png-header-on-garbage", "png-cut-off", "png-no-iend", "png-short-data", "png-bad-crc",
        "jpeg-header-on-garbage", "webp-header-on-garbage", "gif", "exe", "empty", "too-small", "too-large",
        "banner", "too-big"])
def test_bad_logos_are_refused_with_the_reason(data, refused):
    with pytest.raises(BadInput) as error:
        branding.check_logo(data)
    assert error.value.message_id == refused and error.value.field == "logo"


def test_a_favicon_must_be_png_or_ico():
    with pytest.raises(BadInput) as refused:
        branding.check_favicon(fixture("logo.jpg"))
    assert refused.value.message_id == "brand.error.favicon_type"
    with pytest.raises(BadInput) as refused:
        branding.check_favicon(SVG)
    assert refused.value.message_id == "brand.error.favicon_svg"


# -- texts and the record --------------------------------------------------------------------

def test_mail_texts_are_trimmed_plain_and_bounded():
    kept = branding.check_text("  Acme GmbH \r\n Hauptstr. 1  ", field="f", limit=100, lines=3)
    assert kept == "Acme GmbH\n Hauptstr. 1"
    assert branding.check_text("   ", field="f", limit=100, lines=1) is None
    for bad, message in (("x" * 101, "brand.error.text_too_long"), ("a\nb", "brand.error.text_invalid"),
                         ("a\u202eb", "brand.error.text_invalid"), ("a\x07b", "brand.error.text_invalid")):
        with pytest.raises(BadInput) as refused:
            branding.check_text(bad, field="f", limit=100, lines=1)
        assert refused.value.message_id == message


def test_the_brand_is_one_document_read_back_whole(tenants):
    store = tenants.get("demo").store
    assert branding.brand_of(store) is branding.NONE
    brand = branding.Brand(colour="#1a7f37", logo=branding.check_logo(png()), mail_footer="Acme\nSupport")
    branding.save(store, brand)
    again = branding.brand_of(store)
    assert again == brand and again.icon == brand.logo
    assert branding.brand_of(tenants.get("acme").store) is branding.NONE


def test_a_stored_colour_that_no_longer_passes_falls_back_to_the_shipped_look():
    assert branding.Brand(colour="#ffcc00").palette is None
    assert branding.Brand(colour="#1a7f37").palette.accent == "#1a7f37"
