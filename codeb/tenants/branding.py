"""A tenant's brand: logo, primary colour, favicon, and the text around its mails.

Pure validation and the brand record (no Flask): what an admin uploads is checked
here before anything is stored, and `Brand` is what pages, mails and the manifest
read. The brand is one document, `brand/current.json` (images as base64 inside it),
so a save is one atomic replace: a bad upload, a killed process or a full disk
leaves the old brand or the new one, never a logo of one save beside the colour of
another.

Images are only ever served back with the type their own bytes prove: PNG, JPEG or
WebP for the logo, PNG or ICO for the favicon. SVG is refused: it is a document
that can carry script. Dimensions are read from the format's own header (PNG IHDR,
JPEG SOFn, WebP VP8/VP8L/VP8X, ICO directory), every read bounded by the data's
length; a PNG's chunks are CRC-checked and its image data inflated (bounded), so a
valid-looking header on garbage is refused.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import zlib
from dataclasses import dataclass
from functools import cached_property

from ..errors import BadInput
from ..store import cache, layout
from .colour import contrast_ratio, parse_hex

DOCUMENT = (layout.BRAND, layout.BRAND_DOC)

LOGO_MAX_BYTES = 250_000      # "250 kB" as a person reads it (sizes are decimal: codeb.i18n.format_size)
FAVICON_MAX_BYTES = 64_000
MIN_SIDE, MAX_SIDE = 16, 2048          # pixels: smaller is no logo, larger is no web logo
MAX_ASPECT = 8                          # a logo wider than 8:1 is a banner
HEADER_MAX, FOOTER_MAX, FOOTER_LINES = 120, 500, 6

LOGO_TYPES = ("image/png", "image/jpeg", "image/webp")
FAVICON_TYPES = ("image/png", "image/x-icon")

# WCAG 2.x SC 1.4.3 (AA): 4.5:1 for text. The accent is text on the page (links) and the
# background of a button's text, in the light theme and in the dark one.
AA = 4.5
WHITE = "#ffffff"
LIGHT_SURFACES = ("#ffffff", "#f5f7fa")   # --card, --paper of the light theme
DARK_SURFACES = ("#10141a", "#1b212a")    # --paper, --card of the dark theme
DARK_INKS = ("#0b1a33", "#10141a", "#ffffff")  # button text on the dark accent, in order of preference
DEFAULT_ACCENT = "#0b57d0"


class ImageRefused(BadInput):
    """An upload that is not an image of an allowed type, or is too large, in one message id."""


# -- colour ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Palette:
    accent: str        # light theme: links, button background (white text on it)
    dark_accent: str   # dark theme: the accent mixed toward white until it reads on dark surfaces
    dark_ink: str      # dark theme: text on a button of dark_accent


def normalize_colour(value: str) -> str:
    """`#rrggbb` in lowercase; a `#rgb` is spelled out."""
    try:
        r, g, b = parse_hex(value)
    except ValueError:
        raise BadInput("brand.error.colour_format", field="colour") from None
    if not re.fullmatch(r"#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3}", value.strip()):
        raise BadInput("brand.error.colour_format", field="colour")
    return f"#{r:02x}{g:02x}{b:02x}"


def mix(colour: str, toward: str, share: float) -> str:
    """`share` (0..1) of the way from one colour to another, channel by channel in sRGB."""
    a, b = parse_hex(colour), parse_hex(toward)
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b, strict=True))


def worst_contrast(colour: str, surfaces) -> float:
    return min(contrast_ratio(colour, surface) for surface in surfaces)


def dark_variant(colour: str) -> str | None:
    """The lightest-needed mix of `colour` toward white that reads at AA on both dark surfaces
    (in steps of 5 %), or None if none does."""
    for step in range(21):
        candidate = mix(colour, WHITE, step / 20)
        if worst_contrast(candidate, DARK_SURFACES) >= AA:
            return candidate
    return None


def palette(value: str) -> Palette:
    """The accent colours of a primary colour, or BadInput naming the measured ratio and the
    one needed (the web layer formats both in the person's language)."""
    accent = normalize_colour(value)
    light = worst_contrast(accent, LIGHT_SURFACES)  # white button text on it is the same pair as white
    if light < AA:
        raise BadInput("brand.error.colour_light", field="colour", ratio=light, needed=AA)
    dark = dark_variant(accent)
    inks = [ink for ink in DARK_INKS if dark and contrast_ratio(dark, ink) >= AA]
    if dark is None or not inks:
        best = max(worst_contrast(mix(accent, WHITE, s / 20), DARK_SURFACES) for s in range(21))
        raise BadInput("brand.error.colour_dark", field="colour", ratio=best, needed=AA)
    return Palette(accent=accent, dark_accent=dark, dark_ink=inks[0])


# -- images ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Image:
    data: bytes
    mimetype: str
    width: int
    height: int

    @property
    def etag(self) -> str:
        return hashlib.sha256(self.data).hexdigest()[:32]

    @property
    def extension(self) -> str:
        return {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/x-icon": "ico"}[self.mimetype]

    def to_doc(self) -> dict:
        return {"type": self.mimetype, "width": self.width, "height": self.height,
                "data": base64.b64encode(self.data).decode("ascii")}

    @classmethod
    def from_doc(cls, doc: dict | None) -> Image | None:
        if not doc:
            return None
        return cls(base64.b64decode(doc["data"]), doc["type"], doc["width"], doc["height"])


def _corrupt(kind: str) -> ImageRefused:
    return ImageRefused(f"brand.error.{kind}_corrupt", field=kind)


def _is_svg(data: bytes) -> bool:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<svg", b"<?xml", b"<!doctype svg")) or b"<svg" in head


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel (PNG §11.2.2)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a whole, valid PNG (PNG §5.3 chunk layout, §11.2.2 IHDR), else ValueError.

    Every chunk's CRC is checked, IHDR must come first and IEND last, and the IDAT stream must
    inflate to exactly the bytes the header promises (non-interlaced) or no more than that bound."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("no PNG signature")
    pos, chunks, idat = len(PNG_SIGNATURE), [], bytearray()
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError("truncated chunk")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 8 + length
        if end + 4 > len(data):
            raise ValueError("chunk past the end")
        body = data[pos + 8:end]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[end:end + 4])[0]:
            raise ValueError("bad CRC")
        chunks.append(kind)
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos = end + 4
        if kind == b"IEND":
            break
    if not chunks or chunks[0] != b"IHDR" or chunks[-1] != b"IEND" or b"IDAT" not in chunks or len(header) != 13:
        raise ValueError("chunks out of order")
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if colour_type not in PNG_CHANNELS or depth not in (1, 2, 4, 8, 16) or not (0 < width <= MAX_SIDE * 4):
        raise ValueError("bad IHDR")
    if not 0 < height <= MAX_SIDE * 4:
        raise ValueError("bad IHDR")
    expected = height * (1 + (width * PNG_CHANNELS[colour_type] * depth + 7) // 8)
    inflater = zlib.decompressobj()
    raw = inflater.decompress(bytes(idat), expected * 2 + 64)  # Adam7 adds filter bytes; bounded either way
    if not inflater.eof or (interlace == 0 and len(raw) != expected) or len(raw) > expected * 2:
        raise ValueError("image data does not match the header")
    return width, height


JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_size(data: bytes) -> tuple[int, int]:
    """Width and height from a JPEG's SOFn segment (ITU T.81 §B.2.2), walking the marker
    segments from SOI; the file must end with EOI. Else ValueError."""
    if not data.startswith(b"\xff\xd8\xff") or not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise ValueError("no SOI/EOI")
    pos, size = 2, None
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError("not a marker")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if length < 2 or pos + 2 + length > len(data):
            raise ValueError("segment past the end")
        if marker in JPEG_SOF:
            if length < 8:
                raise ValueError("short SOF")
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            size = (width, height)
        if marker == 0xDA:  # start of scan: entropy-coded data follows up to EOI
            break
        pos += 2 + length
    if size is None or marker != 0xDA:
        raise ValueError("no frame or no scan")
    return size


def webp_size(data: bytes) -> tuple[int, int]:
    """Width and height of a WebP (RIFF container; VP8 RFC 6386 §9.1, VP8L and VP8X per the
    WebP container spec), the RIFF size matching the data. Else ValueError."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("no RIFF WEBP")
    if struct.unpack("<I", data[4:8])[0] + 8 != len(data):
        raise ValueError("RIFF size does not match")
    kind, length = data[12:16], struct.unpack("<I", data[16:20])[0]
    if 20 + length > len(data):
        raise ValueError("chunk past the end")
    if kind == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise ValueError("no VP8 start code")
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L":
        if data[20] != 0x2F:
            raise ValueError("no VP8L signature")
        bits = struct.unpack("<I", data[21:25])[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    raise ValueError("unknown WebP chunk")


def ico_size(data: bytes) -> tuple[int, int]:
    """The largest image of an ICO directory; each entry must lie inside the file and be a PNG
    (checked whole) or a BMP with a BITMAPINFOHEADER. Else ValueError."""
    if len(data) < 22 or data[:4] != b"\x00\x00\x01\x00":
        raise ValueError("no ICO header")
    count = struct.unpack("<H", data[4:6])[0]
    if not 0 < count <= 16 or 6 + 16 * count > len(data):
        raise ValueError("bad ICO directory")
    best = (0, 0)
    for i in range(count):
        w, h, _, _, _, _, size, offset = struct.unpack("<BBBBHHII", data[6 + 16 * i:22 + 16 * i])
        if size == 0 or offset < 6 + 16 * count or offset + size > len(data):
            raise ValueError("ICO entry outside the file")
        image = data[offset:offset + size]
        if image.startswith(PNG_SIGNATURE):
            w, h = png_size(image)
        elif len(image) < 40 or struct.unpack("<I", image[:4])[0] != 40:
            raise ValueError("ICO entry is neither PNG nor BMP")
        best = max(best, (w or 256, h or 256))
    return best


SNIFFERS = (
    (PNG_SIGNATURE, "image/png", png_size),
    (b"\xff\xd8\xff", "image/jpeg", jpeg_size),
    (b"RIFF", "image/webp", webp_size),
    (b"\x00\x00\x01\x00", "image/x-icon", ico_size),
)


def check_image(data: bytes, *, kind: str, allowed: tuple[str, ...], max_bytes: int) -> Image:
    """An uploaded logo or favicon, proven by its own bytes, or ImageRefused saying why."""
    if len(data) > max_bytes:
        raise ImageRefused(f"brand.error.{kind}_too_big", field=kind, size=len(data), limit=max_bytes)
    if _is_svg(data):
        raise ImageRefused(f"brand.error.{kind}_svg", field=kind)
    found = next(((mimetype, measure) for signature, mimetype, measure in SNIFFERS
                  if data.startswith(signature) and (mimetype != "image/webp" or data[8:12] == b"WEBP")), None)
    if found is None or found[0] not in allowed:
        raise ImageRefused(f"brand.error.{kind}_type", field=kind)
    mimetype, measure = found
    try:
        width, height = measure(data)
    except (ValueError, struct.error, zlib.error, IndexError):
        raise _corrupt(kind) from None
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE) or \
            max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageRefused(f"brand.error.{kind}_dimensions", field=kind, width=width, height=height,
                           low=MIN_SIDE, high=MAX_SIDE)
    return Image(data, mimetype, width, height)


def check_logo(data: bytes) -> Image:
    return check_image(data, kind="logo", allowed=LOGO_TYPES, max_bytes=LOGO_MAX_BYTES)


def check_favicon(data: bytes) -> Image:
    return check_image(data, kind="favicon", allowed=FAVICON_TYPES, max_bytes=FAVICON_MAX_BYTES)


# -- mail texts ----------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def check_text(value: str, *, field: str, limit: int, lines: int) -> str | None:
    """Plain text for a mail's header or footer: trimmed, at most `limit` characters and
    `lines` lines, no control or bidi-override characters; None when empty."""
    text = "\n".join(line.rstrip() for line in (value or "").replace("\r\n", "\n").strip().split("\n"))
    if not text:
        return None
    if len(text) > limit:
        raise BadInput("brand.error.text_too_long", field=field, limit=limit)
    if text.count("\n") >= lines or _CONTROL.search(text):
        raise BadInput("brand.error.text_invalid", field=field, lines=lines)
    return text


# -- the record ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Brand:
    """What a tenant set; every part optional (no colour: the shipped look)."""

    colour: str | None = None
    logo: Image | None = None
    favicon: Image | None = None
    mail_header: str | None = None
    mail_footer: str | None = None

    @cached_property
    def palette(self) -> Palette | None:
        """The accent colours, worked out once per brand read. A colour saved under other rules
        that no longer passes is ignored (the shipped look), never a failing page."""
        if not self.colour:
            return None
        try:
            return palette(self.colour)
        except BadInput:
            return None

    @property
    def icon(self) -> Image | None:
        """The favicon: the uploaded one, else the logo itself (browsers take PNG, JPEG and WebP icons)."""
        return self.favicon or self.logo

    @cached_property
    def version(self) -> str:
        """Changes whenever anything served from the brand does: the cache-busting `?v=` of its URLs."""
        parts = [self.colour or "", self.logo.etag if self.logo else "", self.favicon.etag if self.favicon else ""]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def to_doc(self) -> dict:
        return {"colour": self.colour, "logo": self.logo.to_doc() if self.logo else None,
                "favicon": self.favicon.to_doc() if self.favicon else None,
                "mail_header": self.mail_header, "mail_footer": self.mail_footer}

    @classmethod
    def from_doc(cls, doc: dict) -> Brand:
        return cls(colour=doc.get("colour"), logo=Image.from_doc(doc.get("logo")),
                   favicon=Image.from_doc(doc.get("favicon")), mail_header=doc.get("mail_header"),
                   mail_footer=doc.get("mail_footer"))


NONE = Brand()
_memo = cache.Memo(size=64)  # a brand holds up to ~330 KB of images: few tenants per process are kept


def brand_of(store) -> Brand:
    """The tenant's brand, parsed once per change of its document in this process."""
    return store.derived(_memo, *DOCUMENT, make=Brand.from_doc) or NONE


def save(store, brand: Brand) -> None:
    """Replace the brand in one atomic write (all checks were made before)."""
    with store.lock(*DOCUMENT):
        store.write(*DOCUMENT, doc=brand.to_doc())
