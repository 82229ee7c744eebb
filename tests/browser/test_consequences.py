"""Consequences where the eye is (issue 12), in the browser: a crashed consumer counts its
session down on its chip while the room plays; lost-write says which acknowledged record was
lost, in a callout on the cluster; timeout-24h shows the hung record's remaining time and a
callout when it times out; a crash and a clean stop look different. A presenter at 1440x900
and a student at 390x844 see the same; screenshots go to artifacts/browser/consequences/."""

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.pages import close, open_pair

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT_MS = 30_000
SHOTS = ARTIFACTS / "consequences"


async def open_story(chromium, site, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    return await open_pair(chromium, f"{site}/s/{name}", timeout=WAIT_MS,
                           drawn=".lane")


async def go_to_step(page, index: int) -> None:
    for _ in range(index):
        current = await page.evaluate("window.playground.narrationStep()")
        await page.click("#narration-next")
        await page.wait_for_function(
            f"() => window.playground.narrationStep() === {current + 1}"
            " && window.playground.clock.goalMs == null", timeout=WAIT_MS)


async def countdown_seconds(page, selector: str) -> float:
    # A countdown is drawn with its label; the page's ticker adds the time left within 200 ms.
    # Read in the same check that saw the time: a redraw of the card between a check and a
    # second read put a fresh countdown, still without its time, in its place.
    found = await page.wait_for_function(
        f"() => {{ const t = document.querySelector('{selector}')?.textContent || '';"
        " return /in [0-9]/.test(t) ? t : null; }", timeout=WAIT_MS)
    text = await found.json_value()
    left = text.rsplit(" in ", 1)[1]
    if left.endswith(" s"):
        return float(left[:-2])
    parts = [int(x) for x in left.split(":")]
    return float(sum(p * 60 ** i for i, p in enumerate(reversed(parts))))


async def test_a_crashed_consumer_counts_its_session_down_while_the_room_plays(chromium, site):
    teacher, student = await open_story(chromium, site, "rebalance")
    await go_to_step(teacher, 7)  # "A consumer crashes": paused at the crash
    chip = '[data-group="cooperative"] .consumer.crashed .countdown.session'
    for page in (teacher, student):
        await page.wait_for_selector(chip, timeout=WAIT_MS)
    first = await countdown_seconds(teacher, chip)
    assert 0 < first <= 45
    await teacher.click("#play")
    await teacher.wait_for_function(
        f"() => {{ const c = document.querySelector('{chip}');"
        f" return c && parseFloat(c.textContent.split(' in ')[1]) <= {first - 2}; }}",
        timeout=WAIT_MS)
    later = await countdown_seconds(student, chip)
    assert later < first  # the student's chip counts down too
    await teacher.screenshot(path=str(SHOTS / "rebalance-session-countdown-teacher.png"))
    await student.screenshot(path=str(SHOTS / "rebalance-session-countdown-student.png"))
    await close(teacher, student)


async def test_lost_write_names_the_lost_record_in_a_callout(chromium, site):
    teacher, student = await open_story(chromium, site, "lost-write")
    await go_to_step(teacher, 3)  # the leader crashes: a crash, not a clean stop
    await teacher.wait_for_selector('[data-broker="1"].crashed .countdown.zk-session',
                                    timeout=WAIT_MS)
    assert "crashed" in await teacher.text_content('[data-broker="1"] .status')
    await go_to_step(teacher, 1)  # the clean election, without like-3
    for page in (teacher, student):
        callout = page.locator('#callouts [data-callout="lost"]')
        await callout.wait_for(timeout=WAIT_MS)
        text = await callout.text_content()
        assert "acknowledged record was lost" in text and "likes/0/2" in text \
            and "like-3" in text, text
    await teacher.screenshot(path=str(SHOTS / "lost-write-callout-teacher.png"))
    await student.screenshot(path=str(SHOTS / "lost-write-callout-student.png"))
    # A click inspects the record that was lost.
    await teacher.click('#callouts [data-callout-record="likes/0/2"]')
    await teacher.wait_for_selector("#inspector:not([hidden])", timeout=WAIT_MS)
    await close(teacher, student)


async def test_timeout_24h_shows_the_time_left_then_a_callout(chromium, site):
    teacher, student = await open_story(chromium, site, "timeout-24h")
    await go_to_step(teacher, 3)  # fixed an hour later, the record still stuck
    timer = '[data-group="renderer"] .countdown.processing'
    for page in (teacher, student):
        await page.wait_for_selector(timer, timeout=WAIT_MS)
    left = await countdown_seconds(teacher, timer)
    assert 22 * 3600 < left < 24 * 3600, left  # 24 h from delivery at 8 s, seen at 1 h
    await teacher.screenshot(path=str(SHOTS / "timeout-24h-time-left.png"))
    await go_to_step(teacher, 1)  # 24 hours later
    for page in (teacher, student):
        callout = page.locator('#callouts [data-callout="timeout"]')
        await callout.wait_for(timeout=WAIT_MS)
        assert "timed out" in await callout.text_content()
        # Nothing left to count down. The callout is drawn at once, the group card at its
        # next redraw (groups every 150 ms, spread over frames): wait for that, bounded.
        await page.locator(timer).wait_for(state="detached", timeout=WAIT_MS)
        assert not await page.locator(timer).count()
    await teacher.screenshot(path=str(SHOTS / "timeout-24h-callout-teacher.png"))
    await student.screenshot(path=str(SHOTS / "timeout-24h-callout-student.png"))
    await close(teacher, student)


async def test_a_clean_stop_looks_unlike_a_crash(chromium, site):
    teacher, student = await open_story(chromium, site, "signup")
    await teacher.click('[data-action="broker.stop"][data-mode="clean"][data-id="2"]')
    await teacher.wait_for_selector('[data-broker="2"].down', timeout=WAIT_MS)
    assert not await teacher.locator('[data-broker="2"].crashed').count()
    assert "stopped" in await teacher.text_content('[data-broker="2"] .status')
    assert not await teacher.locator('[data-broker="2"] .countdown').count()
    await close(teacher, student)
