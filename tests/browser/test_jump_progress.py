"""A long jump in the browser (issue 11): the presenter's "+24 h" on a busy room runs over
many ticks; teacher and student both see a progress bar ("Jumping to Day 2, 00:00 — 43 %"),
only the presenter may cancel it, and cancelling leaves the room where the jump got to.
Screenshots at 1440x900 and 390x844 go to artifacts/browser/."""

import pytest

from tests.browser.pages import new_page

pytestmark = pytest.mark.asyncio(loop_scope="module")

PERCENT_JS = "Number(document.querySelector('#jump-progress progress').value)"


async def page_in_new_context(chromium, width, height):
    return await new_page(chromium, (width, height))


async def test_a_long_jump_shows_progress_to_everyone_and_the_presenter_cancels_it(
    chromium, site, artifacts
):
    teacher = await page_in_new_context(chromium, 1440, 900)
    await teacher.goto(f"{site}/s/amazon-orders")
    await teacher.wait_for_selector('#conn[data-state="open"]')
    room_url = teacher.url
    student = await page_in_new_context(chromium, 390, 844)
    await student.goto(room_url)
    await student.wait_for_selector('#conn[data-state="open"]')

    # A busy day: 20 orders a second for ever (five groups, RF 3): +24 h takes many ticks.
    await teacher.evaluate("""() => window.playground.socket.command({
        type: "producer.add", id: "rush", topic: "order-placed", rate_per_s: 20})""")
    await teacher.click('button[data-jump="86400000"]')
    for page in (teacher, student):
        await page.wait_for_selector("#jump-progress:not([hidden])", timeout=10_000)
        await page.wait_for_function(
            "() => /^Jumping to Day 2, 00:00 — \\d+ %$/.test("
            "document.querySelector('#jump-label').textContent)", timeout=10_000)
    first = await teacher.evaluate(PERCENT_JS)
    await teacher.wait_for_function(f"{PERCENT_JS} > {first}", timeout=20_000)
    assert await student.locator("#jump-cancel").is_disabled()  # only the presenter drives
    await teacher.screenshot(path=str(artifacts / "jump-progress-teacher-1440.png"))
    await student.screenshot(path=str(artifacts / "jump-progress-student-390.png"))

    await teacher.click("#jump-cancel")
    for page in (teacher, student):
        await page.wait_for_selector("#jump-progress", state="hidden", timeout=10_000)
    stopped = await teacher.evaluate("window.playground.clock.nowMs")
    assert 0 < stopped < 86_400_000
    await teacher.wait_for_selector("#paused:not([hidden])")
    assert teacher.errors == [] and student.errors == []
