"""Strategies for outside input: text as it arrives, JSON as a peer may send it."""

import base64

from hypothesis import strategies as st

# Any JSON value a peer may send, kept small.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)

# Text from a header or a form field: any code point, with the characters parsers split on made likely.
SEPARATORS = st.sampled_from([".", ":", "@", "[", "]", " ", "=", "%", "+", "-", "{", "}", "\x00", "\r\n"])
field_text = st.lists(st.text(max_size=8) | SEPARATORS, max_size=12).map("".join)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
