"""One room, one truth, in the browser (issue 12): a presenter and a student in two Chromium
contexts (separate sessions) see the same clock in a quiet room after a reload, the student's
narration follows the presenter's Next within a second, the presenter sees how many watch, and a
fork from a quiet moment plays. Screens of 1440x900 and 390x844, both roles at both widths;
screenshots go to artifacts/browser/."""

import pytest

from tests.browser.pages import PHONE, WIDE, close, connected, open_pair

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOW_JS = "window.playground.clock.read(performance.now())"
WAIT_MS = 15_000


async def quiet_room(chromium, site, teacher_size, student_size):
    """amazon-orders run an hour on (its orders are long done: nothing is due), both pages
    reloaded, so each starts from a snapshot whose seq is the last event's."""
    teacher, student = await open_pair(chromium, f"{site}/s/amazon-orders", teacher_size,
                                       student_size)
    await teacher.click('button[data-jump="3600000"]')
    await teacher.wait_for_function(
        "() => window.playground.clock.nowMs >= 3600000 && window.playground.clock.goalMs == null",
        timeout=60_000)
    for page in (teacher, student):
        await page.reload()
        await connected(page)
        await page.wait_for_function("() => window.playground.clock.nowMs >= 3600000",
                                     timeout=WAIT_MS)
    return teacher, student


async def clock_runs(page, seconds: float) -> float:
    """Wait until the page's clock has run `seconds` past where it is now, carried by the
    room's frames (the page runs its clock ahead on its own for at most 1.2 s); returns it."""
    start = await page.evaluate("window.playground.clock.nowMs")
    await page.wait_for_function(
        f"() => window.playground.clock.nowMs >= {start + seconds * 1000}"
        f" && {NOW_JS} >= {start + seconds * 1000}", timeout=WAIT_MS)
    return start


async def test_a_quiet_rooms_clock_runs_on_both_pages_after_a_reload_and_pause_holds_it(
        chromium, site, artifacts):
    teacher, student = await quiet_room(chromium, site, WIDE, PHONE)
    await teacher.click("#play")
    for page in (teacher, student):
        await page.wait_for_function("() => window.playground.clock.playing", timeout=WAIT_MS)
    started = await teacher.evaluate("window.playground.clock.nowMs")
    for page in (teacher, student):
        await clock_runs(page, 3)
    await teacher.screenshot(path=str(artifacts / "classroom-quiet-playing-teacher-1440.png"))
    await student.screenshot(path=str(artifacts / "classroom-quiet-playing-student-390.png"))
    await teacher.click("#play")  # Pause
    for page in (teacher, student):
        await page.wait_for_function("() => !window.playground.clock.playing", timeout=WAIT_MS)
    held = await teacher.evaluate(NOW_JS)
    # Held where it got to on both pages (never snapped back to the snapshot's time).
    assert held >= started + 3_000
    await student.wait_for_function(f"() => {NOW_JS} === {held}", timeout=WAIT_MS)
    # The clock's text is drawn by the next animation frame: two frames on each page, and both
    # have drawn the held time (under load the student's last drawn text was still its own
    # run-ahead from before the pause arrived).
    for page in (teacher, student):
        await page.evaluate(
            "new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    assert await teacher.inner_text("#clock") == await student.inner_text("#clock")
    print(f"paused at {await teacher.inner_text('#clock')} on both pages")
    await close(teacher, student)


async def test_the_students_narration_follows_the_presenters_next_and_both_see_who_watches(
        chromium, site, artifacts):
    # The other way round from the test above: the presenter on a phone, the student wide.
    teacher, student = await quiet_room(chromium, site, PHONE, WIDE)
    for page in (teacher, student):
        await page.wait_for_function(
            "() => document.querySelector('#viewers').textContent === '2 watching'",
            timeout=WAIT_MS)
        assert await page.locator("#viewers").is_visible()
    first = await student.inner_text("#narration-count")
    await teacher.click("#narration-next")
    await teacher.wait_for_function(
        "(t) => document.querySelector('#narration-count').textContent !== t", arg=first,
        timeout=WAIT_MS)
    step = await teacher.inner_text("#narration-count")
    title = await teacher.inner_text("#narration-title")
    # Within a second of the presenter's page showing it.
    await student.wait_for_function(
        "(t) => document.querySelector('#narration-count').textContent === t", arg=step,
        timeout=1_000)
    assert await student.inner_text("#narration-title") == title
    await teacher.screenshot(path=str(artifacts / "classroom-narration-teacher-390.png"))
    await student.screenshot(path=str(artifacts / "classroom-narration-student-1440.png"))
    # The student leaves: the presenter's count follows.
    await student.context.close()
    await teacher.wait_for_function(
        "() => document.querySelector('#viewers').textContent === 'only you watching'",
        timeout=WAIT_MS)
    await close(teacher)


async def test_a_fork_from_a_quiet_moment_plays(chromium, site, artifacts):
    teacher, student = await quiet_room(chromium, site, WIDE, PHONE)
    await student.click("#fork")  # the presenter's page has no Fork: it drives already
    await student.wait_for_url(lambda url: url != teacher.url, timeout=WAIT_MS)
    await connected(student)
    await student.wait_for_function("() => window.playground.session.you?.presenter === true",
                                    timeout=WAIT_MS)
    forked_at = await student.evaluate("window.playground.clock.nowMs")
    assert forked_at >= 3_600_000
    await student.click("#play")
    await clock_runs(student, 3)
    await student.screenshot(path=str(artifacts / "classroom-fork-playing-390.png"))
    await close(teacher, student)
