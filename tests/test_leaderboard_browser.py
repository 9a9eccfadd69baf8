"""The leaderboard page in a real headless browser (Debian's Chromium, driven by
Playwright): it loads without console errors, its table sorts, its plane has one trace per
method, and a screenshot is written. Out of the default suite (`-m browser`); `.ci/run`
installs Chromium and the `browser` extra and runs it. Set PRIVBENCH_SCREENSHOT to keep the
screenshot at that path."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.test_leaderboard import built_site

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_leaderboard_page_in_a_browser(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason='pip install -e ".[browser]"')
    if not Path(CHROMIUM).is_file():
        pytest.fail("Chromium is not installed: apt-get install chromium (Debian's package)")
    out = built_site(tmp_path)
    shot = Path(os.environ.get("PRIVBENCH_SCREENSHOT") or tmp_path / "leaderboard.png")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on(
            "request",
            lambda r: None if r.url.startswith(("file:", "data:")) else problems.append(r.url),
        )
        page.goto((out / "synthetic-known-tiny.html").as_uri())
        assert page.locator("svg g.trace").count() == 4  # raw, blur, penalty, mosaic
        top1 = page.locator("#leaderboard th", has_text="Top-1")
        column = [h.inner_text() for h in page.locator("#leaderboard th").all()].index(
            top1.inner_text()
        ) + 1

        def shown() -> list[float]:
            cells = page.locator(f"#leaderboard tbody td:nth-child({column})").all()
            return [float(c.get_attribute("data-v") or "nan") for c in cells]

        top1.click()
        assert shown() == sorted(shown())
        top1.click()
        assert shown() == sorted(shown(), reverse=True) and shown()[0] == 96.5  # raw's mean
        page.locator("#legend span", has_text="raw").click()  # hides raw's trace
        assert page.locator('svg g.trace[data-method="raw"]').is_hidden()
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert problems == []
    assert shot.stat().st_size > 10_000
