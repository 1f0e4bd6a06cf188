"""End to end in headless Chromium (Playwright): log in, review three pairs by keyboard, watch the
queue advance, reload and find the decisions kept."""

from __future__ import annotations

import re

import pytest
from review_fixtures import (
    CHROMIUM,
    CHROMIUM_ARGS,
    MISSING,
    RESIDENTS,
    candidates_table,
    levels_table,
    need_chromium,
    serving,
)

from kinmatch.review.store import Store
from kinmatch.review.web import create_app

pytestmark = pytest.mark.browser

PASSWORD = "browser-pass-1"


@pytest.fixture
def server(tmp_path):
    need_chromium()
    store = Store(tmp_path / "cases.db")
    store.load_candidates(candidates_table(), RESIDENTS, MISSING, run_id="run1", levels=levels_table())
    store.add_user("rev1", PASSWORD, "reviewer")
    app = create_app(store)
    with serving(app, store) as served:
        yield served


@pytest.fixture
def page():
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context()
        context.set_default_timeout(15_000)
        tab = context.new_page()
        yield tab
        browser.close()


def queue_count(page, base) -> int:
    page.goto(base + "/")
    return int(page.locator("#queue-count").inner_text())


def test_review_three_pairs_by_keyboard(server, page):
    base, store = server
    page.goto(base + "/")
    assert "/login" in page.url  # not logged in: the login page only
    page.fill("input[name=username]", "rev1")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-button")
    page.wait_for_url(base + "/")
    before = queue_count(page, base)
    assert before == 7

    page.click("#start")
    page.wait_for_url(re.compile(r"/pair/R1/M1$"))
    page.keyboard.press("y")                                   # 同一人
    page.wait_for_url(re.compile(r"/pair/R2/M2$"))
    page.keyboard.press("j")                                   # skip ahead and back
    page.wait_for_url(re.compile(r"/pair/R5/M5$"))
    page.keyboard.press("k")
    page.wait_for_url(re.compile(r"/pair/R2/M2$"))
    page.keyboard.press("u")                                   # 不确定
    page.wait_for_url(re.compile(r"/pair/R5/M5$"))
    page.keyboard.press("n")                                   # 非同一人: asks a reason
    assert page.locator("#reason-panel").is_visible()
    page.keyboard.press("3")                                   # 3. 年龄不可能
    page.wait_for_url(re.compile(r"/pair/R6/M6$"))
    assert page.locator("#pair-title").inner_text() == "R6 × M6"

    assert queue_count(page, base) == before - 3
    page.reload()
    assert int(page.locator("#queue-count").inner_text()) == before - 3
    page.goto(base + "/pair/R5/M5")
    page.reload()
    assert page.locator("#current-decision").inner_text() == "非同一人"
    current = store.current_decisions()
    assert list(zip(current["missing_id"], current["decision"], current["reason"].fillna(""),
                    current["reviewer"], strict=True)) == [("M1", "same", "", "rev1"), ("M2", "unsure", "", "rev1"),
                                              ("M5", "not_same", "年龄不可能", "rev1")]


def test_script_in_a_record_does_not_run(server, page):
    base, _ = server
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(base + "/login")
    page.fill("input[name=username]", "rev1")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-button")
    page.wait_for_url(base + "/")
    page.goto(base + "/pair/R3/M3")
    assert "<script>alert('x')</script>" in page.locator("table.compare").inner_text()
    page.wait_for_timeout(200)
    assert dialogs == []
