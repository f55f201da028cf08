"""Fetching an upstream's published documents (OIDC discovery, key sets, SAML metadata):
one bounded GET, no redirects followed, a short timeout, every failure an UpstreamError.
`requests` (with urllib3 and the http.client it brings) loads at the first fetch: a fresh
process answering its first sign-in page needs none of it."""

from .checks import UpstreamError

TIMEOUT = 5  # seconds for each request to the upstream
MAX_BODY = 512 * 1024


def get_bytes(url: str, what: str, *, accept: str, limit: int = MAX_BODY) -> bytes:
    """The body of a 200 answer to GET `url`, at most `limit` bytes (`what` names it in errors)."""
    import requests  # noqa: PLC0415 -- at the first fetch (see above)

    try:
        answer = requests.get(url, timeout=TIMEOUT, allow_redirects=False, stream=True, headers={"Accept": accept})
        body = answer.raw.read(limit + 1, decode_content=True)
        answer.close()
    except requests.RequestException as error:
        raise UpstreamError("error.upstream.unreachable", f"{what}: {type(error).__name__}") from None
    if answer.status_code != 200:
        raise UpstreamError("error.upstream.unreachable", f"{what}: HTTP {answer.status_code}")
    if len(body) > limit:
        raise UpstreamError("error.upstream.unreachable", f"{what}: larger than {limit} bytes")
    return body
