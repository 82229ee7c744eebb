"""Screenshots of every built-in scenario (issue 13), in Debian's Chromium against the real
Daphne, at 1440x900 in the light and the dark colour scheme: at load (connected, drawn) and
mid-run (after the header's "+1 min" jump has finished). They go to
artifacts/browser/screens/<scenario>-<light|dark>-<load|mid>.png, for people to look at; each
also asserts what a person would notice: the room connected and drew its partitions, the clock
moved on by the minute, nothing is wider than the window, and the page threw no error.

One Chromium for the module; per scenario, the light and dark pages run side by side.
"""

import asyncio

import pytest

from broker_core.scenarios import BUILTIN_NAMES
from tests.browser.pages import WIDE, close, connected, new_page

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT_MS = 30_000  # a busy scenario on a shared 2-core machine: opening or jumping may be slow
# A partition's row (the topics view) or a replica's lane (the brokers view, where a story may
# open).
ROWS = ".lane"
JUMP_MS = 60_000  # the header's "+1 min"
NOW_JS = "window.playground.clock.nowMs"

# How far the document is wider than the window, and the elements that stick out (first few).
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const over = document.documentElement.scrollWidth - width;
  const out = over <= 0 ? [] : [...document.body.querySelectorAll("*")]
    .filter((e) => e.getBoundingClientRect().right > width + 0.5)
    .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${[...e.classList].join(".")}`
      + ` right=${Math.round(e.getBoundingClientRect().right)}`);
  return {over, out};
}"""

# Two animation frames: whatever the last message changed has been painted (canvas included).
PAINTED_JS = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"


async def assert_fits(page, what: str) -> None:
    fit = await page.evaluate(OVERFLOW_JS)
    assert fit["over"] <= 0, f"{what} is {fit['over']} px wider than {WIDE[0]}: {fit['out']}"


async def screens(chromium, site, shots, name: str, scheme: str) -> list[str]:
    """One person's page of `name` in `scheme`: its two screenshots, with the checks."""
    page = await new_page(chromium, WIDE, color_scheme=scheme)
    what = f"{name} ({scheme})"
    await page.goto(f"{site}/s/{name}")
    assert "/r/" in page.url, f"{what}: /s/{name} did not open a room ({page.url})"
    await connected(page, WAIT_MS, drawn=ROWS)
    await page.evaluate(PAINTED_JS)
    saved = [shots / f"{name}-{scheme}-load.png"]
    await page.screenshot(path=str(saved[-1]))
    await assert_fits(page, f"{what} at load")

    before = await page.evaluate(NOW_JS)
    await page.click(f'button[data-jump="{JUMP_MS}"]')
    # The jump has finished when the clock reached its goal and no goal is pending.
    await page.wait_for_function(
        f"() => {NOW_JS} >= {before + JUMP_MS} && window.playground.clock.goalMs == null",
        timeout=WAIT_MS)
    await page.evaluate(PAINTED_JS)
    saved.append(shots / f"{name}-{scheme}-mid.png")
    await page.screenshot(path=str(saved[-1]))
    await assert_fits(page, f"{what} mid-run")
    assert await page.get_attribute("#conn", "data-state") == "open", f"{what}: lost its socket"
    await close(page)  # and no uncaught error on the page
    return [str(p) for p in saved]


@pytest.mark.parametrize("name", BUILTIN_NAMES)
async def test_each_builtin_is_drawn_whole_at_load_and_mid_run_in_light_and_dark(
        chromium, site, artifacts, name):
    shots = artifacts / "screens"
    shots.mkdir(exist_ok=True)
    saved = await asyncio.gather(*(screens(chromium, site, shots, name, scheme)
                                   for scheme in ("light", "dark")))
    for path in sum(saved, []):
        print(f"screenshot: {path}")
