"""`/docs` works without the internet: a real headless Chromium (Debian's, driven by Playwright)
opens it on a running `stockroom serve`, with every request beyond loopback refused, sees the
operations rendered, and runs "Try it out" on GET /v1/items."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect, sync_playwright

from tests.servers import Server

#: Debian's chromium package; the suite never downloads a browser.
CHROMIUM = "/usr/bin/chromium"
#: Quiet and self-contained: no updates, sync, field trials or first-run pages calling home.
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


@pytest.fixture(scope="module")
def docs_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = Server(
        {"STOCKROOM_DATABASE_URL": database_url, "STOCKROOM_API_KEYS": None},
        workdir=Path(tmp_path_factory.mktemp("docs")),
    )
    try:
        server.wait_ready()
        yield server.base_url
    finally:
        server.terminate()


@pytest.fixture
def page() -> Iterator[Page]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (Debian's package)")
    args = [*CHROMIUM_ARGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_swagger_ui_renders_and_runs_a_request_with_no_network_beyond_loopback(
    page: Page, docs_server: str
) -> None:
    refused: list[str] = []

    def loopback_only(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOOPBACK or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            refused.append(url)
            route.abort("internetdisconnected")

    page.route("**/*", loopback_only)
    page.goto(f"{docs_server}/docs")

    operation = page.locator(".opblock-get", has=page.locator('[data-path="/v1/items"]'))
    expect(operation).to_have_count(1)
    expect(page.locator(".opblock")).not_to_have_count(0)
    assert page.locator(".opblock").count() >= 5, "every operation is rendered"

    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status")
    expect(status).to_have_text("200")
    assert refused == [], f"the page asked for resources beyond loopback: {refused}"
