"""The person's browser, for the relying-party tests.

The relying party (Authlib's client, openid-client) only ever sees URLs: it
builds the authorization URL and is handed the callback URL. Between the two
a `requests.Session` plays the browser against the served app: it keeps the
session cookie, reads the magic link from the pickup folder, presses the
button, and stops at the redirect to the relying party (nothing listens on
127.0.0.1:9999), whose Location is the callback.
"""

import pytest

from tests.support.user_agent import Browser


@pytest.fixture
def user_agent(mailbox):
    """The person's browser (the OAuth "user agent"); `browser` is Playwright's, in tests/browser."""
    b = Browser(mailbox)
    yield b
    b.http.close()
