"""A manager's audit and subject access pages in a real browser, each axe-checked."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gateway.users import Role
from tests.gateway.sar.builder import ANONYMOUS_TRACES, build
from tests.support.browser import check_page, expect, expect_errors_described, sign_in
from tests.web.conftest import WebEnv

if TYPE_CHECKING:
    from playwright.sync_api import Page


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """What the browser sees does not depend on the engine (the view tests run on both)."""
    return sqlite_url


def test_a_manager_walks_the_audit_and_exports_the_archive(
    web: WebEnv, page: Page, tmp_path: Path
) -> None:
    web.add_user("olivia")
    web.add_user("mary", Role.MANAGER)
    rich = build(web.settings, web.engine, officer="olivia", manager="mary")

    sign_in(page, "mary")
    page.goto(f"/cases/{rich.case_id}")
    check_page(page, "case")
    expect(page.locator("#viewers tbody tr")).to_have_count(2)

    page.get_by_role("link", name="Who viewed or changed this record").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Who viewed or changed this record")
    check_page(page, "case-trail")
    page.get_by_role("link", name="Show only views of the record").click()
    expect(page.locator("#entry-count")).to_contain_text("(views only)")
    check_page(page, "case-trail-views")
    page.locator("#trail tbody tr").first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What mary viewed or changed")
    check_page(page, "user-trail")

    page.goto(f"/cases/{rich.case_id}")
    check_page(page, "case-again")
    page.get_by_role("button", name="Export for a subject access request").click()
    check_page(page, "confirm")
    page.get_by_label("Request reference (optional)").fill("x" * 101)
    page.get_by_role("button", name="Make the file").click()
    check_page(page, "confirm-error", status=400)
    expect_errors_described(page)
    page.get_by_label("Request reference (optional)").fill("SAR-2026-9")
    with page.expect_download() as download:
        page.get_by_role("button", name="Make the file").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == f"CME-{rich.case_id}-subject-access.zip"
    with zipfile.ZipFile(saved) as zf:
        doc = json.loads(zf.read("data.json"))
        html = zf.read("index.html").decode()
    assert doc["reference"] == "SAR-2026-9"
    assert not [t for t in ANONYMOUS_TRACES if t.lower() in html.lower()]
