"""The waiting "check your inbox" tab over HTTP: its page, resend, the poll, number matching
when the link is opened in another browser (and the phishing attack it stops), the mailed
one-time code, and what the mails say. Two Flask test clients are two browsers."""

import os
import re
from urllib.parse import urlsplit

import pytest

from codeb.signin.magic_link import CODE_ATTEMPTS, LINK_LIFETIME, RESEND_AFTER
from tests.support.oidc import authorize_params, get_authorize
from tests.support.web import HOST, LINK_STEP, confirm_first_profile, csrf_of, query_of

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME_ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/131.0.0.0 Mobile Safari/537.36")
COMPLETE = "/signin/magic-link/complete"


def ask(client, email, *, agent=FIREFOX_LINUX, interaction=None, language="en"):
    """Ask for a link on the sign-in page; the check-inbox page it leads to."""
    headers = {"Host": HOST, "User-Agent": agent, "Accept-Language": language}
    page = client.get("/signin" + (f"?i={interaction}" if interaction else ""), headers=headers)
    data = {"csrf": csrf_of(page.text), "email": email, **({"i": interaction} if interaction else {})}
    sent = client.post("/signin/magic-link/begin", data=data, headers=headers)
    assert sent.status_code == 303 and sent.headers["Location"] == "/signin/sent", sent.text
    return client.get("/signin/sent", headers=headers)


def pending_of(page) -> str:
    return re.search(r'name="pending" value="([0-9a-f]{32})"', page.text).group(1)


def number_of(page) -> int:
    return int(re.search(r'id="match-number"[^>]*>(\d\d)<', page.text).group(1))


def code_of(mail) -> str:
    return re.search(r"^\s+([0-9A-Z]{4}-[0-9A-Z]{4})\s*$", mail.text, re.M).group(1)


def status(client, pid, **headers):
    return client.get(f"/signin/sent/status?p={pid}", headers={"Host": HOST, **headers})


def open_link(client, mailbox, email, agent=CHROME_ANDROID):
    path = urlsplit(mailbox.last_link(to=email)).path
    return path, client.get(path, headers={"Host": HOST, "User-Agent": agent})


def press(client, path, page, **fields):
    return client.post(LINK_STEP, data={"csrf": csrf_of(page.text), "link": path[len("/link/"):], **fields},
                       headers={"Host": HOST, "User-Agent": CHROME_ANDROID})


def type_code(client, page, code):
    return client.post(COMPLETE, data={"csrf": csrf_of(page.text), "pending": pending_of(page), "code": code},
                       headers={"Host": HOST})


def continue_approved(client, page):
    return client.post(COMPLETE, data={"csrf": csrf_of(page.text), "pending": pending_of(page)},
                       headers={"Host": HOST})


def signed_in(client) -> bool:
    return client.get("/account", headers={"Host": HOST}).status_code == 200


def session_of(client) -> str | None:
    cookie = client.get_cookie("codeb", domain=HOST)
    return cookie.value if cookie else None


# -- the page ---------------------------------------------------------------------------------

def test_check_inbox_page_names_the_address_and_offers_resend_another_address_and_the_code(client):
    page = ask(client, "alice@example.com")
    assert page.status_code == 200
    assert "alice@example.com" in page.text and "<h1>Check your inbox</h1>" in page.text
    assert re.search(r'<a id="other-address" href="/signin">Use another address</a>', page.text)
    resend = re.search(r'<button type="submit" class="secondary" id="resend"[^>]*>', page.text).group(0)
    assert f'data-wait="{RESEND_AFTER}"' in resend and "{time}" in resend  # the countdown's start
    assert 'autocomplete="one-time-code"' in page.text and 10 <= number_of(page) <= 99
    assert f'data-status="/signin/sent/status?p={pending_of(page)}"' in page.text
    assert 'src="/static/js/magic-link-wait.js"' in page.text
    assert "<noscript>" in page.text  # "Continue" works without script once approved elsewhere
    assert client.get("/signin/sent", headers={"Host": HOST}).text == page.text  # a reload sends nothing


def test_resend_too_early_is_refused_with_a_clear_message_and_later_sends_anew(client, mailbox, clock):
    page = ask(client, "bob@example.com")
    first_code = code_of(mailbox.last())
    early = client.post("/signin/sent/resend", data={"csrf": csrf_of(page.text)}, headers={"Host": HOST})
    assert early.status_code == 429 and early.headers["Retry-After"] == str(RESEND_AFTER)
    assert f"You can ask for another one in {RESEND_AFTER} seconds." in early.text
    assert len(mailbox.messages()) == 1  # nothing sent
    clock.advance(RESEND_AFTER - 1)
    one = client.post("/signin/sent/resend", data={"csrf": csrf_of(page.text)}, headers={"Host": HOST})
    assert one.status_code == 429 and "another one in 1 second." in one.text  # the catalogue's plural

    clock.advance(1)
    again = client.post("/signin/sent/resend", data={"csrf": csrf_of(page.text)}, headers={"Host": HOST})
    assert again.status_code == 303 and again.headers["Location"] == "/signin/sent"
    assert len(mailbox.messages()) == 2 and mailbox.last().message["To"] == "bob@example.com"
    fresh = client.get("/signin/sent", headers={"Host": HOST})
    assert "A new link and code are on their way." in fresh.text and pending_of(fresh) != pending_of(page)
    # Only the newest code works: the first pending sign-in ended with the resend.
    assert status(client, pending_of(page)).json == {"state": "expired"}
    refused = type_code(client, fresh, first_code)
    assert refused.status_code == 400 and "That code is not right" in refused.text


# -- the poll ----------------------------------------------------------------------------------

def test_poll_is_bound_to_the_asking_browser_cheap_and_ends_with_the_link(app, client, clock):
    page = ask(client, "carol@example.com")
    pid = pending_of(page)
    first = status(client, pid)
    assert first.status_code == 200 and first.json["state"] == "waiting"
    assert first.headers["Cache-Control"] == "no-cache, private" and "Set-Cookie" not in first.headers
    unchanged = status(client, pid, **{"If-None-Match": first.headers["ETag"]})
    assert unchanged.status_code == 304 and not unchanged.data

    stranger = app.test_client()  # knows the id, is not the browser that asked
    stranger.get("/signin", headers={"Host": HOST})
    assert status(stranger, pid).json == {"state": "expired"}
    assert status(app.test_client(), pid).json == {"state": "expired"}
    assert status(client, "../../etc").json == {"state": "expired"}

    clock.advance(LINK_LIFETIME + 1)
    assert status(client, pid).json == {"state": "expired"}
    after = client.get("/signin/sent", headers={"Host": HOST})
    assert "This sign-in has ended. Ask for a new link below." in after.text and 'id="code"' not in after.text
    assert client.post("/signin/sent/resend", data={"csrf": csrf_of(after.text)},
                       headers={"Host": HOST}).status_code == 303


def test_link_opened_in_the_same_browser_simply_continues(client, mailbox):
    page = ask(client, "dave@example.com")
    pid = pending_of(page)
    path, opened = open_link(client, mailbox, "dave@example.com", agent=FIREFOX_LINUX)
    assert "Was this you?" not in opened.text and 'name="match"' not in opened.text
    done = press(client, path, opened)
    assert done.status_code == 303 and signed_in(client)
    assert status(client, pid).json == {"state": "signed_in"}  # the waiting tab of this browser is done


# -- a link opened in another browser: number matching ------------------------------------

def test_attack_link_opened_by_the_victim_does_not_sign_in_the_asker(app, client, mailbox):
    """The cross-device phishing hole: the attacker asks for a link for the victim's address
    and waits; the victim opens the mailed link in their own browser. The attacker's tab must
    not be signed in, neither by polling nor by posting its pending sign-in."""
    attacker, victim = client, app.test_client()
    waiting = ask(attacker, "victim@example.com")
    pid = pending_of(waiting)
    path, opened = open_link(victim, mailbox, "victim@example.com")
    assert "Was this you? Also sign in that device" in opened.text
    assert "Firefox on Linux" in opened.text  # who asked
    early = continue_approved(attacker, waiting)
    assert early.status_code == 400 and "Not approved yet" in early.text and not signed_in(attacker)

    done = press(victim, path, opened)  # "Sign in on this device only"
    assert done.status_code == 303 and signed_in(victim)
    assert status(attacker, pid).json["state"] == "refused"
    assert status(attacker, pid).json["reason"] == "elsewhere"
    refused = continue_approved(attacker, waiting)
    assert refused.status_code == 400 and "without signing in this one" in refused.text
    assert not signed_in(attacker)
    assert code_of(mailbox.last()) and type_code(attacker, waiting, code_of(mailbox.last())).status_code == 400
    assert not signed_in(attacker)  # the link was spent: its code with it


def test_right_number_approves_and_the_asker_gets_a_session_of_its_own_once(app, client, mailbox, rp):
    asker, phone = client, app.test_client()
    authorize = get_authorize(asker, authorize_params(rp, None))
    iid = query_of(authorize.headers["Location"])["i"]
    waiting = ask(asker, "erin@example.com", interaction=iid)
    pid, number = pending_of(waiting), number_of(waiting)
    path, opened = open_link(phone, mailbox, "erin@example.com")
    assert "to sign in to Test RP" in opened.text  # the app that asked
    choices = [int(n) for n in re.findall(r'name="match" value="(\d\d)"', opened.text)]
    assert len(set(choices)) == 3 and number in choices

    done = press(phone, path, opened, match=str(number))
    assert done.status_code == 303 and signed_in(phone)
    assert "/authorize/resume" not in done.headers["Location"]  # the app waits in the asking browser
    assert status(asker, pid).json["state"] == "approved" and not signed_in(asker)

    finished = continue_approved(asker, waiting)
    assert finished.status_code == 303, finished.text
    assert signed_in(asker) and session_of(asker) != session_of(phone)
    if finished.headers["Location"].endswith("/welcome"):  # the first sign-in's steps: profile, "Not now" a passkey
        finished = confirm_first_profile(asker, display_name="Erin")
    assert finished.headers["Location"] == f"/authorize/resume?i={iid}"
    resumed = asker.get(finished.headers["Location"], headers={"Host": HOST})
    assert resumed.status_code == 302 and resumed.headers["Location"].startswith(rp.redirect_uri)
    again = continue_approved(asker, waiting)  # one completion only
    assert again.status_code == 400


def test_wrong_number_refuses_the_pending_sign_in_and_the_waiting_tab_says_so(app, client, mailbox):
    asker, phone = client, app.test_client()
    waiting = ask(asker, "frank@example.com")
    pid, number = pending_of(waiting), number_of(waiting)
    path, opened = open_link(phone, mailbox, "frank@example.com")
    wrong = next(int(n) for n in re.findall(r'name="match" value="(\d\d)"', opened.text) if int(n) != number)
    done = press(phone, path, opened, match=str(wrong))
    assert done.status_code == 303 and signed_in(phone)  # the opener holds the mailbox
    assert status(asker, pid).json == {"state": "refused", "reason": "number",
                                       "expires": status(asker, pid).json["expires"]}
    page = asker.get("/signin/sent", headers={"Host": HOST})
    shown = re.search(r'data-state="refused-number">.*?<div class="alert-body"><p>([^<]*)</p>', page.text, re.DOTALL)
    assert shown and "A wrong number was picked" in shown.group(1)
    assert continue_approved(asker, waiting).status_code == 400 and not signed_in(asker)


# -- the one-time code ----------------------------------------------------------------------------

def test_code_signs_in_the_asking_browser_once_and_spends_the_link(client, mailbox):
    waiting = ask(client, "grace@example.com")
    code = code_of(mailbox.last())
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", code)
    done = type_code(client, waiting, code.lower().replace("-", " "))  # typed loosely
    assert done.status_code == 303 and signed_in(client)
    _, opened = open_link(client, mailbox, "grace@example.com")
    assert opened.status_code == 400 and "already used" in opened.text
    again = type_code(client, waiting, code)
    assert again.status_code == 400


def test_code_does_not_work_after_the_five_minutes(client, mailbox, clock):
    waiting = ask(client, "heidi@example.com")
    code = code_of(mailbox.last())
    clock.advance(LINK_LIFETIME + 1)
    expired = type_code(client, waiting, code)
    assert expired.status_code == 400 and "This sign-in has ended" in expired.text
    assert not signed_in(client)


def test_code_works_only_in_the_browser_that_asked(app, client, mailbox):
    waiting = ask(client, "ivan@example.com")
    code = code_of(mailbox.last())
    other = app.test_client()
    page = other.get("/signin", headers={"Host": HOST})
    stolen = other.post(COMPLETE, data={"csrf": csrf_of(page.text), "pending": pending_of(waiting), "code": code},
                        headers={"Host": HOST})
    assert stolen.status_code == 400 and not signed_in(other)
    assert type_code(client, waiting, code).status_code == 303  # the asker's tries were not used up


def test_wrong_codes_are_bounded_then_the_pending_sign_in_ends(client, mailbox):
    waiting = ask(client, "judy@example.com")
    code = code_of(mailbox.last())
    wrong = "ZZZZ-ZZZZ" if code != "ZZZZ-ZZZZ" else "YYYY-YYYY"
    for left in range(CODE_ATTEMPTS - 1, 1, -1):
        answer = type_code(client, waiting, wrong)
        assert answer.status_code == 400 and f"You have {left} more tries." in answer.text
        assert 'id="code" name="code"' in answer.text and 'aria-invalid="true"' in answer.text
    assert "You have 1 more try." in type_code(client, waiting, "not a code").text
    locked = type_code(client, waiting, wrong)
    assert locked.status_code == 400 and "Too many wrong codes" in locked.text and "Ask for a new link" in locked.text
    assert type_code(client, waiting, code).status_code == 400 and not signed_in(client)
    assert status(client, pending_of(waiting)).json["state"] == "locked"


def test_code_is_stored_only_as_an_hmac(client, mailbox, data_root):
    ask(client, "ken@example.com")
    code = code_of(mailbox.last())
    pickup = os.path.join(str(data_root), "_mail")
    for folder, _, files in os.walk(data_root):
        if folder.startswith(pickup):
            continue  # the mail itself
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                content = f.read()
            for form in (code, code.replace("-", "")):
                assert form.encode() not in content, f"code found in {name}"
                assert form not in name


# -- the mails ----------------------------------------------------------------------------------------

def test_mail_says_which_app_browser_and_time_asked_and_shows_the_plain_url(client, mailbox, rp, clock, demo):
    authorize = get_authorize(client, authorize_params(rp, None))
    ask(client, "leo@example.com", interaction=query_of(authorize.headers["Location"])["i"])
    mail = mailbox.last()
    from codeb import i18n

    asked = i18n.format_moment("en", clock(), demo.setting("time_zone", default="Europe/Berlin"))
    assert f"Asked for with Firefox on Linux at about {asked}." in mail.text
    assert "create your account at Demo and continue to Test RP:" in mail.text
    assert code_of(mail) and mail.link in mail.text
    html = mail.message.get_body(("html",)).get_content()
    assert f">{mail.link}</a>" in html and f'href="{mail.link}"' in html  # the plain URL too
    assert code_of(mail) in html and "Firefox on Linux" in html


def test_mail_in_german_formats_the_time_by_babel_in_the_tenants_zone(client, mailbox, clock, demo):
    with demo.store.update("tenant") as doc:
        doc["time_zone"] = "America/New_York"
    ask(client, "mia@example.de", language="de")
    mail = mailbox.last()
    from codeb import i18n

    asked = i18n.format_moment("de", clock(), "America/New_York")
    assert f"Angefordert mit Firefox unter Linux gegen {asked}." in mail.text
    assert "Oder geben Sie diesen Code" in mail.text and "nur einmal" in mail.text


@pytest.mark.parametrize(("policy", "expected"), [
    ("invite", "ask your administrator for an invitation"),
    ("domains", "New accounts can be created here with an address at example.org, example.net."),
])
def test_no_account_mail_explains_and_says_what_to_do(client, mailbox, demo, policy, expected):
    with demo.store.update("tenant") as doc:
        doc["signup"] = {"policy": policy, "domains": ["example.org", "example.net"] if policy == "domains" else []}
    page = ask(client, "nobody@example.com")
    assert 'id="code"' in page.text  # the same page as for an account (no enumeration)
    mail = mailbox.last()
    assert mail.link is None and mail.message["Subject"] == "Sign-in attempt at Demo"
    assert "Someone, perhaps you, asked to sign in to Demo" in mail.text
    assert "There is no account for this address at Demo" in mail.text and expected in mail.text
    assert "nothing needs doing" in mail.text
    if policy == "domains":
        assert "http://localhost/signin" in mail.text
    # A code typed on that page is only ever wrong: there is none.
    assert type_code(client, page, "ABCD-EFGH").status_code == 400


def test_disabled_account_is_told_so_by_mail(client, mailbox, accounts):
    account = accounts.create(email="nina@example.com")
    with accounts.update(account.login) as doc:
        doc["disabled"] = True
    ask(client, "nina@example.com")
    assert "The account for this address at Demo is disabled" in mailbox.last().text


def test_polling_writes_nothing(client, monkeypatch):
    """The waiting tab asks every few seconds for five minutes: each poll is one read, and
    neither the pending sign-in nor the session is written."""
    from codeb.store import files

    page = ask(client, "olga@example.com")
    written = []
    for name in ("write_bytes_atomic", "create_bytes_exclusive"):
        real = getattr(files, name)
        monkeypatch.setattr(files, name, lambda path, data, *, durable=True, real=real: (
            written.append(path), real(path, data, durable=durable))[1])
    etag = None
    for _ in range(20):  # bounded: a minute of polling at the page's interval
        answer = status(client, pending_of(page), **({"If-None-Match": etag} if etag else {}))
        assert answer.status_code in (200, 304)
        etag = answer.headers.get("ETag", etag)
    assert written == []
    type_code(client, page, "ZZZZ-ZZZZ")  # the count does see writes: a wrong code is one
    assert any("magic-pending" in path for path in written)
