"""The whole case in headless Chromium (Playwright): review with both photos (zoom, rotate),
confirm, a second reviewer's confirmation, DNA requested and its result, reunion, the case page;
and the pair and case pages at phone width.

Screenshots of the pair page and the case page at desktop and phone width are written to
``$KINMATCH_SCREENSHOT_DIR`` (default: ``kinmatch-screenshots`` in the system's temp folder) for a
person to look at; they are never committed."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

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
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def _portrait(path: Path, colour: tuple[int, int, int], size=(300, 400)) -> None:
    """A made-up picture (a coloured card with a darker band), not anyone's photo."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).rectangle([40, 60, size[0] - 40, 140], fill=tuple(c // 2 for c in colour))
    image.save(path)


@pytest.fixture
def shots() -> Path:
    folder = Path(os.environ.get("KINMATCH_SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "kinmatch-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def server(tmp_path):
    need_chromium()
    photos = tmp_path / "photos"
    photos.mkdir()
    _portrait(photos / "r1.png", (70, 130, 180))
    _portrait(photos / "m1.png", (200, 140, 60), size=(400, 300))
    store = Store(tmp_path / "cases.db")
    residents = RESIDENTS.assign(photo=["r1.png"] + RESIDENTS["photo"].tolist()[1:], station="测试救助站",
                                 contact="0371-12345678")
    missing = MISSING.assign(photo=["m1.png；https://example.org/m1.jpg"] + [None] * (len(MISSING) - 1))
    store.load_candidates(candidates_table(), residents, missing, run_id="run1", levels=levels_table())
    store.add_user("rev1", PASSWORD, "reviewer")
    store.add_user("rev2", PASSWORD, "reviewer")
    store.add_user("admin1", PASSWORD, "admin")
    app = create_app(store, photo_dir=photos)
    with serving(app, store) as served:
        yield served


@pytest.fixture
def browser():
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


def logged_in(browser, base, username, viewport=DESKTOP):
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-button")
    page.wait_for_url(base + "/")
    return page


def loaded_images(page, selector) -> int:
    return page.eval_on_selector_all(selector, "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).length")


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_the_whole_case_in_the_browser(server, browser, shots):
    base, store = server
    first = logged_in(browser, base, "rev1")
    first.click("#start")
    first.wait_for_url(re.compile(r"/pair/R1/M1$"))
    # both photos, each from the photo folder; the report's URL photo is a link only
    assert loaded_images(first, "#photos-resident img") == 1 and loaded_images(first, "#photos-report img") == 1
    assert first.locator('#photos-report a[href="https://example.org/m1.jpg"]').count() == 1
    report_photo = first.locator("#photos-report img")
    first.click("#photos-report button[data-photo=zoom-in]")
    first.click("#photos-report button[data-photo=rotate]")
    assert report_photo.evaluate("i => i.style.transform") == "scale(1.5) rotate(90deg)"
    first.click("#photos-report button[data-photo=reset]")
    assert report_photo.evaluate("i => i.style.transform") == "scale(1) rotate(0deg)"
    first.wait_for_timeout(300)                                        # the transition ends before the picture
    first.screenshot(path=str(shots / "pair-desktop.png"), full_page=True)

    first.keyboard.press("y")                                          # 同一人
    first.wait_for_url(re.compile(r"/pair/R2/M2$"))
    first.goto(base + "/pair/R1/M1")
    assert first.locator("#btn-second").count() == 0                   # not by the same account
    assert "须由另一位审核人二次确认" in first.locator("#second-review").inner_text()

    second = logged_in(browser, base, "rev2")
    second.goto(base + "/pair/R1/M1")
    second.click("#btn-second")
    second.wait_for_url(re.compile(r"/case/R1$"))
    assert second.locator("#case-stage").inner_text() == "已二次确认，待申请DNA比对"
    # the match-lead letter: a PDF, and a letter_sent event in the case
    letter = second.request.get(base + second.locator("#letter-link").get_attribute("href"))
    assert letter.ok and letter.headers["content-type"] == "application/pdf" and letter.body()[:5] == b"%PDF-"
    assert "letter_sent" in store.events("R1")["event"].tolist()
    notice_before = second.request.get(base + "/case/R1/notice")
    assert notice_before.ok and "撤回" not in notice_before.text()
    for event, day, stage in (("dna_requested", "2023-11-07", "已申请DNA比对，待结果"),
                              ("dna_match", "2023-11-20", "DNA比对一致，待返乡"),
                              ("reunited", "2023-11-25", "已返乡")):
        second.select_option("#step-event", event)
        second.fill("#step-date", day)
        second.click("#btn-step")
        second.wait_for_load_state()
        assert second.locator("#case-stage").inner_text() == stage
    assert "已撤回" in second.locator("#notice-status").inner_text()
    # the public notice itself turned into the withdrawn version
    notice_after = second.request.get(base + "/case/R1/notice")
    assert notice_after.ok and "撤回" in notice_after.text()
    history = second.locator("#case-history").inner_text()
    assert "申请DNA比对" in history and "2023-11-07" in history and "已返乡" in history
    assert second.locator("#case-candidates").inner_text().count("M1") == 1
    second.screenshot(path=str(shots / "case-desktop.png"), full_page=True)

    state = store.case_state("R1")
    assert (state["stage"], state["second_by"], state["reunited"]) == ("reunited", "rev2", True)

    phone = logged_in(browser, base, "rev2", viewport=PHONE)
    for path, name in (("/pair/R1/M1", "pair-phone.png"), ("/case/R1", "case-phone.png"), ("/", "queue-phone.png")):
        phone.goto(base + path)
        assert fits_the_screen(phone), path                            # nothing wider than the phone
        phone.screenshot(path=str(shots / name), full_page=True)
    # the campaign report, generated from the store on the site, at desktop and phone width
    for viewport, name in ((DESKTOP, "report-desktop.png"), (PHONE, "report-phone.png")):
        admin = logged_in(browser, base, "admin1", viewport=viewport)
        assert admin.locator("#report-link").count() == 1
        admin.goto(base + "/admin/report?from=2023-01-01&to=2023-12-31")
        admin.wait_for_load_state()
        text = admin.locator("body").inner_text()
        assert "返乡" in text and "DNA" in text
        # the charts are inline images and load under the page's own policy
        assert admin.locator("img").count() >= 3 and loaded_images(admin, "img") == admin.locator("img").count()
        admin.screenshot(path=str(shots / name), full_page=True)
    for name in ("pair-desktop.png", "case-desktop.png", "pair-phone.png", "case-phone.png", "report-desktop.png",
                 "report-phone.png"):
        assert (shots / name).stat().st_size > 10_000, name
