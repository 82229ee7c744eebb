"""One record's journey at a glance (issue 13), in Debian's Chromium: amazon-orders fits a
1440x900 screen with its five groups and every partition, each partition drawn once; following
order-17 lights the partition murmur2 predicts, its replicas and one consumer in each group; on
a 390x844 phone nothing overflows sideways and a consumer can be crashed by tap; no text on
the page is under 12 px. Screenshots go to artifacts/browser/journey/."""

import pytest

from broker_core.partitioner import partition_for_key
from tests.browser.conftest import ARTIFACTS
from tests.browser.pages import PHONE, WIDE, close, connected, new_page

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT_MS = 30_000
SHOTS = ARTIFACTS / "journey"
ROWS = ".lane.row"
GROUPS = ["inventory", "seller", "notification", "invoice", "delivery"]

# Every element that draws text of its own, visible, with its font size: none may be under 12.
SMALL_TEXT_JS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const n = walker.currentNode;
    if (!n.textContent.trim()) continue;
    const e = n.parentElement;
    const skip = "[hidden], .visually-hidden, script, style, template, datalist, option";
    if (!e || e.closest(skip)) continue;
    const r = e.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    const cs = getComputedStyle(e);
    if (cs.visibility === "hidden" || cs.display === "none") continue;
    const size = parseFloat(cs.fontSize);
    const text = n.textContent.trim().slice(0, 30);
    if (size < 12) out.push(`${e.tagName.toLowerCase()}.${e.className} "${text}" ${size}px`);
  }
  return out;
}"""

INSIDE_JS = """(sel) => [...document.querySelectorAll(sel)].map((e) => {
  const r = e.getBoundingClientRect();
  return {name: e.dataset.group || `${e.dataset.topic}/${e.dataset.partition}`,
          inside: r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth
            && r.height > 0};
})"""


async def open_room(chromium, site, viewport=WIDE, **context):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = await new_page(chromium, viewport, **context)
    await page.goto(f"{site}/s/amazon-orders")
    await connected(page, WAIT_MS, drawn=ROWS)
    return page


async def jump(page, ms: int) -> None:
    before = await page.evaluate("window.playground.clock.nowMs")
    await page.click(f'[data-jump="{ms}"]')
    await page.wait_for_function(
        f"() => window.playground.clock.nowMs >= {before + ms}"
        " && window.playground.clock.goalMs == null",
        timeout=WAIT_MS)


RATE_JS = "() => document.querySelector('[data-rate=\"order-placed\"]').textContent"


async def test_amazon_orders_fits_a_projector_screen_with_every_partition_once(chromium, site):
    page = await open_room(chromium, site)
    # Playing, the producer's topic says its rate, averaged over 5 s: two orders a second.
    await page.click("#play")
    await page.wait_for_function(f"""() => window.playground.clock.nowMs > 7000
        && / records\\/s$/.test(({RATE_JS})())""", timeout=WAIT_MS)
    rate = float((await page.evaluate(RATE_JS)).split()[0])
    assert 1.5 <= rate <= 2.5, rate
    await page.click("#play")
    await jump(page, 60_000)
    await page.wait_for_timeout(400)  # the groups redraw a few times a second
    groups = await page.evaluate(INSIDE_JS, ".group")
    assert [g["name"] for g in groups] == GROUPS
    assert all(g["inside"] for g in groups), groups
    rows = await page.evaluate(INSIDE_JS, ROWS)
    names = [r["name"] for r in rows]
    expected = [f"{t}/{p}" for t in ("order-placed", "order-cancelled") for p in range(3)]
    assert sorted(names) == sorted(expected), "each partition is drawn exactly once"
    assert all(r["inside"] for r in rows), rows
    # Nothing scrolls: not the page, not the groups' column.
    scroll = await page.evaluate("""() => [document.documentElement.scrollHeight - innerHeight,
        ...[...document.querySelectorAll('.col')].map((c) => c.scrollHeight - c.clientHeight)]""")
    assert max(scroll) <= 1, scroll
    # Replicas are marks on their partition: three per row, one of them the leader.
    marks = await page.evaluate(f"""() => [...document.querySelectorAll('{ROWS}')].map((r) =>
        [r.querySelectorAll('[data-broker-mark]').length,
         r.querySelectorAll('.rmark.leader').length])""")
    assert marks == [[3, 1]] * 6
    assert await page.evaluate(SMALL_TEXT_JS) == []
    # Pictures on the virtual time axis (uPlot, fetched once the room is drawn): a lag
    # sparkline on each group and a records/s one on each topic.
    await page.wait_for_function(
        "() => document.querySelectorAll('[data-spark-group] canvas').length === 5"
        " && document.querySelectorAll('[data-spark-topic] canvas').length === 2")
    await page.screenshot(path=str(SHOTS / "amazon-orders-1440.png"))
    # The per-broker view is one click away, and back.
    await page.click("#view-brokers")
    await page.wait_for_selector("#brokers .broker .lane")
    assert await page.locator("#brokers .broker .lane").count() == 18
    await page.click("#view-topics")
    await page.wait_for_selector(f"#brokers {ROWS}")
    await close(page)


async def test_following_order_17_lights_its_journey(chromium, site):
    page = await open_room(chromium, site)
    await jump(page, 60_000)
    await page.fill("#follow-key", "order-17")
    await page.click("#follow button[type=submit]")
    predicted = partition_for_key("order-17", 3)
    lit = f'{ROWS}.lit[data-topic="order-placed"][data-partition="{predicted}"]'
    await page.wait_for_selector(lit, timeout=WAIT_MS)
    lit_rows = await page.evaluate(f"""() => [...document.querySelectorAll('{ROWS}.lit')].map((r) =>
        `${{r.dataset.topic}}/${{r.dataset.partition}}`)""")
    assert lit_rows == [f"order-placed/{predicted}"]
    # Its cell, and every replica (all in sync a minute later) holds it.
    row = f'{ROWS}[data-topic="order-placed"][data-partition="{predicted}"]'
    assert await page.locator(f"{row} .cell.lit").count() == 1
    assert await page.locator(f"{row} .rmark.lit").count() == 3
    # One consumer in each of the five groups, and nothing else lit in them.
    per_group = await page.evaluate("""() => [...document.querySelectorAll('.group')].map((g) =>
        [g.dataset.group, g.querySelectorAll('.consumer.lit, .consumer.lit-pending').length])""")
    assert per_group == [[g, 1] for g in GROUPS]
    # Everything else dims; the bar says why this partition, in murmur2's arithmetic.
    assert await page.evaluate("document.body.classList.contains('following')")
    text = await page.text_content("#follow-text")
    assert 'murmur2("order-17")' in text and f"mod 3 = {predicted}" in text, text
    await page.screenshot(path=str(SHOTS / "follow-order-17.png"))
    # "Next with this key": nothing produces order-17 again, so it waits for one; a record
    # produced by hand with that key is picked up.
    await page.click("#follow-next")
    await page.wait_for_function("() => /Waiting for the next record with key order-17/.test("
                                 "document.querySelector('#follow-text').textContent)")
    await page.fill("#p-key", "order-17")
    await page.click("#produce-form button[type=submit]")
    await page.wait_for_function("() => window.playground.renderer.follow?.id != null",
                                 timeout=WAIT_MS)
    follow_id = await page.evaluate("window.playground.renderer.follow.id")
    assert follow_id.startswith(f"order-placed/{predicted}/")
    await page.click("#follow-stop")
    assert not await page.evaluate("document.body.classList.contains('following')")
    await close(page)


async def test_a_phone_fits_its_width_and_crashes_a_consumer_by_tap(chromium, site):
    page = await open_room(chromium, site, PHONE, has_touch=True, is_mobile=True)
    await jump(page, 60_000)
    # Against the phone's width, not innerWidth: a mobile browser widens its layout viewport
    # (zooming out) to fit a page that overflows.
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    crash = page.locator('[data-action="consumer.crash"][data-id="inventory-1"]')
    await crash.scroll_into_view_if_needed()
    await crash.tap()
    await page.wait_for_selector('[data-group="inventory"] [data-consumer="inventory-1"].crashed',
                                 timeout=WAIT_MS)
    assert await page.evaluate(SMALL_TEXT_JS) == []
    overflow = await page.evaluate(f"""() => [...document.querySelectorAll('body *')]
        .filter((e) => {{
        const r = e.getBoundingClientRect();
        return r.width && r.right > {PHONE[0]} + 1 && e.checkVisibility(); }})
        .slice(0, 5).map((e) => `${{e.tagName}}.${{e.className}}`)""")
    assert overflow == []
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    await page.screenshot(path=str(SHOTS / "amazon-orders-390.png"), full_page=True)
    await close(page)
