"""Narration on the clock, in the browser (issue 12): for each of the ten built-ins, the
presenter steps through the story with Next; at every step the clock is at the step's moment
(as broker_core's narration.walk finds it for the scenario alone), the step's watched elements
exist and are visible, and a student in a second browser shows the same step and clock.
Screenshots per step go to artifacts/browser/narration/."""

import contextlib
import re

import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeout

from broker_core.__main__ import default_until_ms
from broker_core.narration import walk
from broker_core.scenario import build_cluster
from broker_core.scenarios import BUILTIN_NAMES, load_builtin
from tests.browser.conftest import ARTIFACTS
from tests.browser.pages import new_page, open_pair

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT_MS = 30_000
SHOTS = ARTIFACTS / "narration"


def moments(name: str) -> list[int]:
    spec = load_builtin(name)
    cluster = build_cluster(spec)
    cluster.advance(0)
    return [m for _, m in walk(cluster, spec["steps"], default_until_ms(spec))]


async def at_step(page, index: int, moment: int) -> None:
    await page.wait_for_function(
        f"""() => window.playground.narrationStep() === {index}
             && window.playground.clock.goalMs == null
             && window.playground.clock.nowMs === {moment}""", timeout=WAIT_MS)


@pytest.mark.parametrize("name", BUILTIN_NAMES)
async def test_each_step_shows_its_moment_and_its_watched_elements(chromium, site, name):
    expected = moments(name)
    teacher, student = await open_pair(chromium, f"{site}/s/{name}", timeout=WAIT_MS,
                                       drawn=".lane")
    SHOTS.mkdir(parents=True, exist_ok=True)
    steps = await teacher.evaluate("window.playground.scenario().steps")
    assert len(steps) == len(expected) > 1
    for i, moment in enumerate(expected):
        if i:
            await teacher.click("#narration-next")
        await at_step(teacher, i, moment)
        await at_step(student, i, moment)  # the class follows the presenter
        # Rows and chips redraw a few times a second, a few a frame: give the step's record
        # a moment to be drawn (bounded), then count.
        visible = ("[...document.querySelectorAll('.watched')].filter((n) => n.getClientRects()"
                   ".length && getComputedStyle(n).visibility !== 'hidden').length")
        with contextlib.suppress(PlaywrightTimeout):
            await teacher.wait_for_function(f"() => {visible} > 0", timeout=2_000)
        watched = await teacher.evaluate(visible)
        assert watched >= 1, f"{name} step {i + 1} ({steps[i]['title']}): watches " \
                             f"{steps[i]['watch']}, nothing visible at {moment} ms"
        moment_text = await teacher.text_content("#narration-moment")
        assert i == 0 or moment_text.strip(), f"{name} step {i + 1} says no moment"
        slug = re.sub(r"[^a-z0-9]+", "-", steps[i]["title"].lower()).strip("-")[:40]
        await teacher.screenshot(path=str(SHOTS / f"{name}-{i + 1}-{slug}.png"))
    await student.screenshot(path=str(SHOTS / f"{name}-student-phone-last.png"))
    # Back rewinds to the previous step's moment (nobody changed the room).
    await teacher.click("#narration-back")
    await at_step(teacher, len(expected) - 2, expected[-2])
    await at_step(student, len(expected) - 2, expected[-2])
    assert not teacher.errors and not student.errors, teacher.errors + student.errors
    await teacher.context.close()
    await student.context.close()


async def test_a_try_it_yourself_fills_the_produce_form(chromium, site):
    page = await new_page(chromium, (1440, 900))
    await page.goto(f"{site}/s/amazon-orders")
    await page.wait_for_selector('#conn[data-state="open"]', timeout=WAIT_MS)
    await page.click("#narration-next")
    await page.wait_for_selector("#narration-try:not([hidden])", timeout=WAIT_MS)
    step = await page.evaluate("window.playground.scenario().steps[1]")
    await page.click("#narration-try")
    assert await page.input_value("#p-key") == step["try"]["key"]
    assert await page.input_value("#p-topic") == step["try"]["topic"]
    await page.context.close()
