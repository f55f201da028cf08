"""The person's browser as a `requests.Session`, for tests that walk a sign-in over HTTP.

It keeps the session cookies, reads the magic link from the pickup folder, presses the
button, and stops at the redirect to the relying party, whose Location it returns.
"""

import re
from html import unescape
from urllib.parse import urljoin, urlsplit

import requests

from tests.support.web import csrf_of, query_of


def hidden_value(html: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{re.escape(name)}" value="([^"]*)"', html)
    assert match, f"page has no hidden '{name}' field"
    return unescape(match.group(1))


class Browser:
    def __init__(self, mailbox):
        self.http = requests.Session()
        self.mailbox = mailbox

    def get(self, url, **kwargs):
        return self.http.get(url, allow_redirects=False, timeout=10, **kwargs)

    def post(self, url, **kwargs):
        return self.http.post(url, allow_redirects=False, timeout=10, **kwargs)

    def past_first_sign_in(self, url: str) -> str:
        """A first sign-in shows the profile step, then offers a passkey: confirm the profile
        (the display name starts empty and is required), then "Not now"."""
        for _ in range(3):
            path = urlsplit(url).path
            if path == "/welcome/passkey":
                url = urljoin(url, self.get(urljoin(url, "/welcome/continue")).headers["Location"])
            elif path == "/welcome":
                page = self.get(url)
                confirmed = self.post(url, data={"csrf": hidden_value(page.text, "csrf"),
                                                 "display_name": "RP Test Person", "nickname": "",
                                                 "language": "en"})
                assert confirmed.status_code == 303, confirmed.text[:500]
                url = urljoin(url, confirmed.headers["Location"])
            else:
                return url
        raise AssertionError(f"the first sign-in did not end: still at {url}")

    def sign_in(self, authorization_url: str, email: str) -> str:
        """Follow an authorization request through the magic-link sign-in;
        return the Location of the final redirect to the relying party."""
        start = self.get(authorization_url)
        assert start.status_code == 303, (start.status_code, start.text[:500])
        signin_url = urljoin(authorization_url, start.headers["Location"])
        assert urlsplit(signin_url).path == "/signin", signin_url
        interaction = query_of(signin_url)["i"]

        page = self.get(signin_url)
        assert page.status_code == 200, page.text[:500]
        sent = self.post(urljoin(signin_url, "/signin/continue"),  # identifier first: a link is mailed
                         data={"csrf": csrf_of(page.text), "email": email, "i": interaction})
        # A sent mail answers 303 to the "check your mail" page (a reload sends nothing).
        assert sent.status_code == 303 and sent.headers["Location"] == "/signin/sent", sent.text[:500]

        link = self.mailbox.last_link(to=email)
        assert link and urlsplit(link).netloc == urlsplit(authorization_url).netloc, link
        button = self.get(link)
        assert button.status_code == 200, button.text[:500]
        done = self.post(urljoin(link, "/signin/magic-link/complete"),
                         data={"csrf": csrf_of(button.text), "link": hidden_value(button.text, "link")})
        assert done.status_code == 303, (done.status_code, done.text[:500])
        resume_url = self.past_first_sign_in(urljoin(link, done.headers["Location"]))
        assert urlsplit(resume_url).path == "/authorize/resume", resume_url

        back = self.get(resume_url)
        assert back.status_code == 302, (back.status_code, back.text[:500])
        return back.headers["Location"]
