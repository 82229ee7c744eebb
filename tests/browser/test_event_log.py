"""The event log keeps what matters (issue 12), in Debian's Chromium against a real Daphne.

`broker-failure`: broker 1, leader of payments/0 and the controller, crashes at 20 s; its
ZooKeeper session expires at 38 s, broker 3 becomes controller (epoch 2) and payments/0 elects
broker 2 (epoch 1). About 85 events a second flow meanwhile, most of them per-record, and some
500 in the second after 38 s (the records held back while payments/0 had no leader).

- The lines a lesson is about (elections, controller moves, crashes, rebalances) are still in
  the log at 40 s, with per-record lines shown or hidden: hidden lines no longer count against
  the 400-line cap, and those lines are kept apart from it.
- After "+1 min" the newest line is at the clock, not at the last event the frame carried whole
  (a frame carries its earliest per-record events whole and counts the rest).
- When more lines come at once than the log holds, one line says how many were skipped.
- A filter that matches only hidden per-record lines says so and how to show them.

Screenshots at 1440x900 and 390x844 go to artifacts/browser/ (paths printed).
"""

import re

import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeout

from tests.browser.pages import connected, new_page

pytestmark = pytest.mark.asyncio(loop_scope="module")

# The shown lines of the log, oldest first, with the virtual time each line carries.
SHOWN_JS = """() => [...document.querySelectorAll('#log-list li')].filter((li) => !li.hidden)
  .map((li) => ({type: li.dataset.type, text: li.textContent, t: li._entry.t,
                 cls: li.className}))"""
NEWEST_T_JS = f"() => {{ const s = ({SHOWN_JS})(); return s.length ? s[s.length - 1].t : null; }}"
JUMP_DONE_JS = """(ms) => window.playground.clock.nowMs >= ms
  && window.playground.clock.goalMs == null"""

# (type, text the line must contain): what broker-failure's first 40 s are about. (What happened
# before the page connected is in its snapshot, not in its log.)
MUST_KEEP = [
    ("group.rebalance_completed", "ledger: rebalance done, generation 1"),
    ("broker.stopped", "broker 1 stopped (crash)"),
    ("broker.session_expired", "broker 1's ZooKeeper session expired"),
    ("controller.elected", "controller is broker 3 (epoch 2)"),
    ("partition.leader_elected", "payments/0: leader is now broker 2 (epoch 1)"),
]
MISSING_JS = f"""(want) => {{ const shown = ({SHOWN_JS})();
  return want.filter(([type, text]) => !shown.some((s) => s.type === type
                                                          && s.text.includes(text))); }}"""


async def open_room(chromium, site, width, height, name="broker-failure"):
    page = await new_page(chromium, (width, height))
    await page.goto(f"{site}/s/{name}")
    await connected(page)
    return page


async def jump(page, ms):
    """Jumps `ms` of virtual time from where the room is, and waits until the room got there."""
    start = await page.evaluate("window.playground.clock.nowMs")
    await page.evaluate("(ms) => window.playground.socket.control('jump', {ms})", ms)
    await page.wait_for_function(JUMP_DONE_JS, arg=start + ms, timeout=30_000)
    return start + ms


async def settle(page, condition, arg=None, timeout=5_000):
    """Waits (bounded) for `condition`; the caller then asserts, with the values in its message.
    The log draws at most four times a second, so what a frame brought shows within 250 ms."""
    try:
        await page.wait_for_function(condition, arg=arg, timeout=timeout)
    except PlaywrightTimeout:  # the assertion that follows says what is wrong
        pass


async def missing(page):
    want = [list(w) for w in MUST_KEEP]
    await settle(page, f"(want) => ({MISSING_JS})(want).length === 0", want)
    return await page.evaluate(MISSING_JS, want)


async def test_elections_controller_moves_and_rebalances_stay_in_the_log_at_40_s(
        chromium, site, artifacts):
    page = await open_room(chromium, site, 1440, 900)
    await jump(page, 37_000)
    # Played, not jumped, through the election: about 700 events between 38 s and 40 s, each
    # sent whole, most of them per-record lines.
    await page.click("#play")
    await page.wait_for_function("() => window.playground.clock.nowMs >= 40500", timeout=20_000)
    await page.click("#play")
    await page.wait_for_selector("#paused:not([hidden])")
    gone = await missing(page)
    assert gone == [], f"gone from the log with per-record lines off: {gone}"
    shown = await page.evaluate(SHOWN_JS)
    assert not any(s["cls"] == "record" for s in shown), "per-record lines are off by default"
    await page.click("#log-toggle")
    path = artifacts / "event-log-40s-1440.png"
    await page.screenshot(path=str(path))
    print(path)

    await page.check("#log-records")
    await settle(page, f"() => ({SHOWN_JS})().filter((s) => s.cls === 'record').length > 300")
    shown = await page.evaluate(SHOWN_JS)
    assert sum(s["cls"] == "record" for s in shown) > 300, "per-record lines are shown"
    gone = await missing(page)
    assert gone == [], f"gone from the log with per-record lines on: {gone}"
    # The cap counts shown lines: 400 at most, besides the kept ones.
    assert sum("kept" not in s["cls"] for s in shown) <= 400
    await finish(page, artifacts / "event-log-40s-per-record-1440.png")


async def finish(page, path) -> None:
    """The page's screenshot to `path` (printed, to look at), no page errors, closed."""
    await page.screenshot(path=str(path))
    print(path)
    assert page.errors == []
    await page.context.close()


async def newest_line_near_clock(page, slack_ms=3_000):
    clock = await page.evaluate("window.playground.clock.nowMs")
    await settle(page, f"() => ({NEWEST_T_JS})() >= {clock - slack_ms}")
    newest = await page.evaluate(NEWEST_T_JS)
    assert newest is not None and newest >= clock - slack_ms, (
        f"the newest log line is at {newest} ms, the clock at {clock} ms")


async def test_after_plus_one_minute_the_newest_line_is_at_the_clock(chromium, site, artifacts):
    page = await open_room(chromium, site, 1440, 900)
    await page.click("#log-toggle")
    await page.click('button[data-jump="60000"]')
    await page.wait_for_function(JUMP_DONE_JS, arg=60_000, timeout=30_000)
    # Per-record lines off: one line stands for the records since the last event, at the newest
    # one's time.
    await newest_line_near_clock(page)
    shown = await page.evaluate(SHOWN_JS)
    assert re.search(r"… [\d,]+ per-record events", shown[-1]["text"]), shown[-1]
    path = artifacts / "event-log-after-jump-1440.png"
    await page.screenshot(path=str(path))
    print(path)
    # Per-record lines on: the newest of them.
    await page.check("#log-records")
    await newest_line_near_clock(page)
    assert page.errors == []
    await page.context.close()


async def test_more_lines_at_once_than_the_log_keeps_are_skipped_and_counted(
        chromium, site, artifacts):
    page = await open_room(chromium, site, 1440, 900)
    # 200 payments a second: each frame of the jump carries 400 events whole and aggregates the
    # rest, more per-record lines than the log keeps.
    await page.evaluate("""() => window.playground.socket.command({type: "producer.add",
        id: "rush", topic: "payments", rate_per_s: 200})""")
    await page.click("#log-toggle")
    await page.check("#log-records")
    start = await page.evaluate("window.playground.clock.nowMs")
    await page.click('button[data-jump="60000"]')
    await page.wait_for_function(JUMP_DONE_JS, arg=start + 60_000, timeout=60_000)
    marker = "document.querySelector('#log-list li.skipped')"
    await settle(page, f"() => {marker} !== null")
    text = await page.evaluate(f"() => {marker}?.textContent")
    assert text and re.search(
        r"… [\d,]+ lines? skipped: more came at once than the log keeps", text), text
    await newest_line_near_clock(page)
    shown = await page.evaluate(SHOWN_JS)
    assert sum("kept" not in s["cls"] for s in shown) <= 400
    await finish(page, artifacts / "event-log-skipped-1440.png")


async def test_a_filter_that_matches_only_hidden_lines_says_how_to_show_them(
        chromium, site, artifacts):
    page = await open_room(chromium, site, 390, 844)
    await jump(page, 40_000)
    # A key the log has a per-record line for: read it with per-record lines shown.
    await page.check("#log-records")
    produced = page.locator('#log-list li[data-type="record.produced"]', has_text="key=")
    await produced.last.wait_for(state="attached", timeout=5_000)
    text = await produced.last.text_content()
    key = re.search(r"key=(\S+)", text).group(1)
    await page.uncheck("#log-records")

    await page.fill("#log-filter", key)
    hint = page.locator("#log-hint-text")
    await page.wait_for_function(
        "() => (document.querySelector('#log-hint-text')?.textContent || '').length > 0",
        timeout=5_000)
    assert re.fullmatch(r"[\d,]+ matching per-record lines? (is|are) hidden — "
                        r"tick 'per-record events'", await hint.text_content())
    assert await hint.is_visible()
    assert await page.evaluate(SHOWN_JS) == []
    # Typing a filter opened the log, so the hint and the lines are in view.
    assert await page.get_attribute("#log-toggle", "aria-expanded") == "true"
    path = artifacts / "event-log-filter-hint-390.png"
    await page.screenshot(path=str(path))
    print(path)

    await page.click("#log-hint-show")
    assert await page.is_checked("#log-records")
    shown = await page.evaluate(SHOWN_JS)
    assert shown and all(key in s["text"] for s in shown)
    assert await hint.text_content() == ""

    await page.fill("#log-filter", "no-such-thing-here")
    await page.wait_for_function(
        "() => document.querySelector('#log-hint-text').textContent.startsWith('Nothing')",
        timeout=5_000)
    assert await page.evaluate(SHOWN_JS) == []
    assert page.errors == []
    await page.context.close()
