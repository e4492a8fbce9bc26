"""The demo in a real browser: `cme demo` loads it, its officer signs in with the printed
password, and every page in the service navigation (as the menu shows it at run time)
renders with the demo banner, axe-checked and screenshotted."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from tests.conftest import CliCall
from tests.gateway.test_demo import BANNER, sign_ins
from tests.support.browser import check_page, expect, sign_in
from tests.web.conftest import WebEnv

if TYPE_CHECKING:
    from playwright.sync_api import Page


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """What the browser sees does not depend on the engine (test_demo.py loads on both)."""
    return sqlite_url


def _menu(page: Page) -> list[tuple[str, str]]:
    """(label, path) of every link in the service navigation, in its order."""
    links = page.locator("#navigation a.govuk-service-navigation__link")
    out = []
    for i in range(links.count()):
        link = links.nth(i)
        href = link.get_attribute("href") or ""
        out.append((" ".join(link.inner_text().split()), urlsplit(href).path))
    return out


def test_the_demo_officer_walks_every_menu_page(web: WebEnv, cli: CliCall, page: Page) -> None:
    result = cli("demo", as_user=None)
    assert result.exit_code == 0, result.output
    username, password = sign_ins(result)["officer"]

    page.goto("/sign-in")
    expect(page.locator("#demo-banner")).to_have_text(f"Demo {BANNER}")
    check_page(page, "sign-in-demo")
    sign_in(page, username, password=password)
    expect(page.locator("#demo-banner")).to_contain_text(BANNER)

    menu = _menu(page)
    paths = [path for _label, path in menu]
    assert len(paths) >= 4 and "/cases" in paths, menu
    for label, path in menu:
        page.goto(path)
        check_page(page, f"menu-{label}")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect(page.locator("#demo-banner")).to_contain_text(BANNER)
        # The menu is the same on every page: nothing appears or goes as the officer walks.
        assert [p for _l, p in _menu(page)] == paths, f"the menu changed on {path}"
