"""Browser tests: Debian's headless Chromium through Playwright, axe-core and a screenshot per page.

The fixtures (`browser`, `live_server`, `page`) are registered in tests/web/conftest.py. A test
drives `page` with Playwright's auto-waiting calls and `expect(...)`, and calls
`check_page(page)` on every page it reaches: that waits for the new page to finish loading,
checks the HTTP status, saves a full-page screenshot under test-artifacts/screenshots/<test>/
and runs axe-core (WCAG 2.x A and AA), failing on any serious or critical violation. Console
errors, uncaught script errors and failed requests fail the test, as does a page the browser
loaded that the test never checked.

Playwright is imported lazily: without it (or without Chromium, axe-core or the built assets)
the browser tests skip with the reason, and fail when CI is set, as PostgreSQL's do.
"""

from __future__ import annotations

import json
import os
import re
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response

    from tests.web.conftest import WebEnv
    from web.server import WebServer

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails in CI) with the reason
    expect = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
#: Without the last four Chromium keeps trying to reach the network (FIELD-NOTES.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ASSETS = ROOT / "web" / "static" / "govuk" / "app.css"
ARTIFACTS = Path(os.environ.get("CME_TEST_ARTIFACTS") or ROOT / "test-artifacts")
SCREENSHOTS = ARTIFACTS / "screenshots"
#: Generous on purpose: two shared cores, and auto-waiting returns as soon as it can.
TIMEOUT_MS = 30_000
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING_IMPACTS = ("critical", "serious")
#: Where the page loads axe from. The console's CSP allows only same-origin scripts, so the
#: test serves node_modules' axe.min.js at this path (a Playwright route; the app never sees
#: the request) rather than inlining it, and the CSP stays in force in every browser test.
AXE_PATH = "/__browser-tests__/axe.min.js"
#: Set on a page once checked; a page without it is a new document.
_CHECKED = "__cmeChecked"


def unavailable(reason: str) -> NoReturn:
    """Skip locally with the reason; in CI a browser test that cannot run is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"BROWSER UNAVAILABLE in CI: {reason}", pytrace=False)
    pytest.skip(f"BROWSER UNAVAILABLE, browser test skipped: {reason}")


def _missing() -> str | None:
    if expect is None:
        return "Playwright for Python is not installed: run .venv/bin/pip install -e '.[dev]'"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM}: run scripts/install-deps.sh"
    if not AXE.exists():
        return f"no axe-core at {AXE.relative_to(ROOT)}: run scripts/assets.sh (npm ci)"
    if not ASSETS.exists():
        return "GOV.UK Frontend assets not built: run scripts/assets.sh"
    return None


# -- what went wrong in the browser during one test ----------------------------------------


@dataclass
class Watch:
    """Everything a page did that a person would call broken, and the pages checked."""

    folder: Path
    problems: list[str] = field(default_factory=list)
    #: (url, status) of error responses the test said it expects, e.g. a 404 page.
    allowed: set[tuple[str, int]] = field(default_factory=set)
    failed: list[tuple[str, int]] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    documents: list[tuple[str, int]] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    #: Every URL the page requested, and each redirect's target, in order (searched for
    #: children's names when the test ends: none may appear in a URL).
    requested: list[str] = field(default_factory=list)
    #: URLs that answered with a file to save: their navigation ends "aborted", as it should.
    downloads: set[str] = field(default_factory=set)
    aborted: list[tuple[str, str]] = field(default_factory=list)
    shots: int = 0

    def attach(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.problems.append(f"uncaught script error: {exc}"))
        page.on("request", lambda request: self.requested.append(request.url))
        page.on("download", lambda download: self.downloads.add(download.url))
        page.on("requestfailed", self._on_request_failed)
        page.on("response", lambda resp: self._on_response(page, resp))
        page.on("load", lambda p: self.loaded.append(_strip_fragment(p.url)))

    def _on_console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.console.append((msg.text, str(msg.location.get("url", ""))))

    def _on_request_failed(self, request: Request) -> None:
        if request.failure == "net::ERR_ABORTED":
            self.aborted.append((request.url, f"{request.method} {request.url}"))
            return
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def _on_response(self, page: Page, resp: Response) -> None:
        if resp.status >= 400:
            self.failed.append((resp.url, resp.status))
        location = resp.headers.get("location")
        if location:
            self.requested.append(location)
        redirect = 300 <= resp.status < 400
        if resp.request.is_navigation_request() and resp.frame == page.main_frame and not redirect:
            self.documents.append((_strip_fragment(resp.url), resp.status))

    def report(self) -> list[str]:
        """What went wrong so far, less the error statuses the test expected."""
        allowed_urls = {url for url, _ in self.allowed}
        found = list(self.problems)
        found += [
            f"request failed: {what}: net::ERR_ABORTED"
            for url, what in self.aborted
            if url not in self.downloads
        ]
        found += [
            f"HTTP {status} for {url}"
            for url, status in self.failed
            if (url, status) not in self.allowed
        ]
        for text, url in self.console:
            # Chromium logs every error status; an expected one is not a problem.
            if url in allowed_urls and text.startswith("Failed to load resource"):
                continue
            found.append(f"console error: {text}" + (f" ({url})" if url else ""))
        return found

    def unchecked(self) -> list[str]:
        """Pages loaded that no check_page call matched (both lists are in visiting order)."""
        missed, pending = [], iter(self.checked)
        expected = next(pending, None)
        for url in self.loaded:
            if url == expected:
                expected = next(pending, None)
            else:
                missed.append(url)
        return missed

    def consume(self) -> None:
        """Drop the problems recorded so far (once a failure has reported them)."""
        for recorded in (self.problems, self.failed, self.console, self.aborted):
            recorded.clear()

    def forget(self) -> None:
        """Drop everything recorded, pages too (for the tests that break things on purpose)."""
        self.consume()
        self.loaded.clear()
        self.checked.clear()


_watches: weakref.WeakKeyDictionary[Page, Watch] = weakref.WeakKeyDictionary()


def watch_of(page: Page) -> Watch:
    try:
        return _watches[page]
    except KeyError:
        raise AssertionError("this page did not come from the `page` fixture") from None


# -- the check on every page ---------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "page"


def _strip_fragment(url: str) -> str:
    return url.split("#", 1)[0]


#: Chromium's known, intermittent refusal of a capture (upstream: puppeteer#5341), seen
#: here once in a full run on a loaded machine; the page itself was fine.
_CAPTURE_REFUSED = "Unable to capture screenshot"


def _screenshot(page: Page, shot: Path) -> None:
    """A full-page screenshot; when Chromium refuses the capture, once more, then the
    viewport alone (still a picture of the page for the artifacts). Any other error, or a
    viewport capture refused as well, fails the test."""
    for full_page in (True, True, False):
        try:
            page.screenshot(path=str(shot), full_page=full_page)
            return
        except Exception as exc:
            if _CAPTURE_REFUSED not in str(exc) or not full_page:
                raise


def check_page(page: Page, name: str | None = None, *, status: int | None = None) -> Path:
    """Check the page the browser has just reached; returns the screenshot's path.

    Waits for a new document (one not checked yet) to finish loading, so it can follow a
    click or submit directly. `status` is the HTTP status the page is expected to have
    (a 404 page, a form sent back with errors); without it anything under 400 passes.
    """
    w = watch_of(page)
    page.wait_for_function(
        f"() => !window.{_CHECKED} && document.readyState === 'complete'", timeout=TIMEOUT_MS
    )
    page.evaluate(f"() => {{ window.{_CHECKED} = true }}")
    url = _strip_fragment(page.url)
    w.checked.append(url)

    w.shots += 1
    w.folder.mkdir(parents=True, exist_ok=True)
    label = name or urlsplit(url).path.strip("/") or "home"
    shot = w.folder / f"{w.shots:02d}-{_slug(label)}.png"
    _screenshot(page, shot)

    message = []
    docs = [s for u, s in w.documents if u == url]
    got = docs[-1] if docs else None
    if got is None:
        message.append(f"no response was recorded for the page at {url}")
    elif status is None and got >= 400:
        message.append(f"{url} answered HTTP {got}; pass status={got} if that is expected")
    elif status is not None and got != status:
        message.append(f"{url} answered HTTP {got}, expected {status}")
    elif status is not None:
        w.allowed.add((url, status))

    violations = run_axe(page)
    if violations:
        shot.with_suffix(".axe.json").write_text(json.dumps(violations, indent=2))
    blocking = [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]
    problems = w.report()
    if blocking:
        message.append(axe_message(url, blocking))
    if problems:
        message.append(f"the browser reported problems by {url}:\n  " + "\n  ".join(problems))
    if message:
        w.consume()  # reported here, so not again when the test ends
        raise AssertionError("\n".join(message) + f"\nscreenshot: {shot}")
    return shot


def run_axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.x A/AA violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
        page.add_script_tag(url=origin + AXE_PATH)
    options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
    result = page.evaluate("(options) => window.axe.run(document, options)", options)
    return list(result["violations"])


def axe_message(url: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"axe-core: {len(violations)} serious or critical accessibility violation(s) on {url}"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}  <{v['helpUrl']}>")
        for node in v["nodes"]:
            target = " ".join(" >> ".join(t) if isinstance(t, list) else t for t in node["target"])
            summary = " ".join(str(node.get("failureSummary", "")).split())
            lines.append(f"    at {target}: {summary}")
    return "\n".join(lines)


def expect_errors_described(page: Page) -> None:
    """The page shows field errors, and each is tied to its field by aria-describedby (axe
    cannot tell; without it a screen reader reads the field but not what is wrong with it)."""
    ids = page.evaluate(
        """() => [...document.querySelectorAll('.govuk-error-message[id]')].map(e => e.id)"""
    )
    assert ids, f"no field error messages on {page.url}"
    loose = page.evaluate(
        """(ids) => ids.filter(id =>
            !document.querySelector(`[aria-describedby~="${CSS.escape(id)}"]`))""",
        ids,
    )
    assert not loose, f"error messages no field points to with aria-describedby: {loose}"


def sign_in(
    page: Page, username: str, *, code: str | None = None, password: str | None = None
) -> None:
    """Sign in through the sign-in page (and the code page with `code`), checking each page."""
    from tests.web.conftest import PASSWORD

    page.goto("/sign-in")
    check_page(page)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password or PASSWORD)
    page.locator("#sign-in").click()
    if code is not None:
        expect(page.get_by_label("Enter your security code")).to_be_visible()
        check_page(page)
        page.get_by_label("Enter your security code").fill(code)
        page.get_by_role("button", name="Continue").click()
    expect(page.get_by_test_id("signed-in-as")).to_be_visible()
    check_page(page)


# -- fixtures ------------------------------------------------------------------------------


# Registered under their names by tests/web/conftest.py; the functions' own names differ so
# that importing them there does not shadow its local variables called `page`.


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Browser]:
    """One headless Chromium per test module (so per xdist worker at any moment).

    Module scope, not session: while the sync API is started, asyncio believes a loop runs
    on the main thread, and a later non-browser test in the same worker could trip on it.
    """
    reason = _missing()
    if reason:
        unavailable(reason)
    from playwright.sync_api import Error, sync_playwright

    assert expect is not None
    expect.set_options(timeout=TIMEOUT_MS)
    pw = sync_playwright().start()
    try:
        try:
            chromium = pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
        except Error as exc:
            unavailable(f"Chromium did not start: {exc}")
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        pw.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say where the screenshots are (registered through tests/web/conftest.py)."""
    folders = {
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        for key, value in getattr(report, "user_properties", ())
        if key == "screenshots"
    }
    if folders:
        terminalreporter.write_line(
            f"browser tests: a screenshot of every page checked is in {SCREENSHOTS}/<test>/ "
            f"({len(folders)} tests)"
        )


@dataclass(frozen=True)
class LiveServer:
    url: str
    server: WebServer


@pytest.fixture(name="live_server")
def live_server_fixture(web: WebEnv) -> Iterator[LiveServer]:
    """The app on a real waitress server on a free loopback port (port 0: no collisions)."""
    from web.server import WebServer

    server = WebServer(web.app, "127.0.0.1", 0).start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.port}", server)
    finally:
        server.stop()


@pytest.fixture(name="page")
def page_fixture(
    browser: Browser, live_server: LiveServer, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A page in a fresh browser context, its base URL the live server; checked at the end."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 1280, "height": 900},
        locale="en-GB",
        timezone_id="Europe/London",
        service_workers="block",
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    context.route(
        live_server.url + AXE_PATH,
        lambda route: route.fulfill(path=str(AXE), content_type="text/javascript"),
    )
    node = request.node
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{node.path.stem}.{node.name}")[:150]
    folder = SCREENSHOTS / test
    if folder.exists():
        for old in folder.iterdir():
            old.unlink()
    node.user_properties.append(("screenshots", str(folder)))
    w = Watch(folder)
    new = context.new_page()
    w.attach(new)
    _watches[new] = w
    try:
        yield new
        new.title()  # lets events still in flight reach the watch
        problems = w.report()
        unchecked = w.unchecked()
    finally:
        context.close()
    if unchecked:
        problems.append(
            "page(s) loaded but never checked, call check_page(page) after each: "
            + ", ".join(unchecked)
        )
    problems += _names_in_urls(request, w.requested)
    if problems:
        pytest.fail(
            "the browser reported problems:\n  "
            + "\n  ".join(problems)
            + f"\nscreenshots: {folder}",
            pytrace=False,
        )


def _names_in_urls(request: pytest.FixtureRequest, urls: list[str]) -> list[str]:
    """A child's name in a URL ends up in browser history, proxy and server logs: none may
    appear in any URL the test's browser requested (or was redirected to)."""
    from tests.support.leaks import children_named_in, found_in

    web = request.getfixturevalue("web")
    names = children_named_in(web.engine)
    return [
        f"a child's name ({', '.join(found)}) in a URL: {url}"
        for url in dict.fromkeys(urls)
        if (found := found_in(url, names))
    ]
