"""What the workspace's browser tests ask of an office page: a meeting's remote video playing,
the page's service worker as DevTools knows it, the notifications it shows."""

import time

from playwright.sync_api import expect


def remote_video_plays(page, within_ms: int) -> None:
    """One other participant's tile, its peer connection connected and its video playing."""
    tile = page.locator(".meeting-tile:not(.local)")
    expect(tile).to_have_count(1, timeout=within_ms)
    expect(tile).to_have_attribute("data-state", "connected", timeout=within_ms)
    page.wait_for_function("""() => {
        const video = document.querySelector('.meeting-tile:not(.local) video');
        return video && video.videoWidth > 0 && video.currentTime > 0;
    }""", timeout=within_ms)


def worker_registration(page, served: str, within_s: float):
    """A DevTools session on `page` and the id it knows the page's service worker registration by."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    cdp = page.context.new_cdp_session(page)
    found: list[str] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated",
           lambda event: found.extend(r["registrationId"] for r in event["registrations"]
                                      if r["scopeURL"].startswith(served) and not r.get("isDeleted")))
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + within_s
    while not found and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert found, "no service worker registration"
    return cdp, found[0]


def push_until_shown(page, cdp, served: str, registration: str, payload: str, within_s: float) -> list[dict]:
    """Hand `payload` to the page's service worker as Chrome's push service would (DevTools), until
    it shows a notification; the notifications shown. Handed again every two seconds: a push that
    reaches a worker still starting up can be dropped by Chrome, and a payload with a tag replaces
    its own notification, so a second delivery never shows a second one."""
    deadline = time.monotonic() + within_s
    notes: list[dict] = []
    while not notes and time.monotonic() < deadline:
        cdp.send("ServiceWorker.deliverPushMessage", {"origin": served, "registrationId": registration,
                                                       "data": payload})
        again = min(deadline, time.monotonic() + 2)
        while not (notes := shown_notifications(page)) and time.monotonic() < again:
            page.wait_for_timeout(50)
    return notes


def shown_notifications(page) -> list[dict]:
    return page.evaluate("""navigator.serviceWorker.ready.then((r) => r.getNotifications())
        .then((all) => all.map((n) => ({title: n.title, body: n.body, tag: n.tag, url: n.data && n.data.url})))""")
