"""Joining late, reloading and forking give the same picture as having watched (issue 12).

A snapshot carries each partition's newest records (playground/rooms/cells.py), so the cells a
lane draws (offset, key colour, "offset 3 · key order-4") are the same on a page that watched
every record arrive and on one that opened the room later, reloaded it or opened a fork of it;
and the first record of a fresh room, sent at 0 ms before any page could connect, is drawn
with its key, not hollow. Screenshots at 1440x900 go to artifacts/browser/."""

import time

import pytest

from broker_core.partitioner import partition_for_key
from tests.browser.pages import new_page

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Every lane's cells as drawn: which record, whether hollow ("counted, not drawn"), the key
# colour and the tooltip (offset and key). Lanes are named by broker, topic and partition.
CELLS_JS = """() => Object.fromEntries(
  [...document.querySelectorAll("#brokers .lane, #side-topics .lane")].map((lane) => [
    `${lane.closest("[data-broker]")?.dataset.broker ?? lane.dataset.replica ?? "side"}:`
      + `${lane.dataset.topic}/${lane.dataset.partition}`,
    [...lane.querySelectorAll(".tape .cell")].map((c) => ({record: c.dataset.record,
      unseen: c.classList.contains("unseen"), colour: c.style.getPropertyValue("--key"),
      title: c.title})).concat(
      // A partition's row also marks its replicas: who leads, who is in sync, how far behind.
      [...lane.querySelectorAll("[data-broker-mark]")].map((m) =>
        ({mark: m.className, text: m.textContent})))]))"""
PRODUCED_JS = """() => window.playground.model.topics.get("order-placed").partitions
  .reduce((n, p) => n + (p.leo.get(p.leader) ?? 0), 0)"""


async def open_page(chromium, url):
    page = await new_page(chromium)
    await page.goto(url)
    await page.wait_for_selector('#conn[data-state="open"]')
    await page.wait_for_selector("#brokers .lane .cell")
    await page.wait_for_function("() => window.playground", timeout=5_000)
    return page


async def same_cells(one, other, timeout_s=10.0):
    """Both pages' cells once they agree (lanes redraw a few times a second), or the last
    difference seen when the time is up."""
    deadline = time.monotonic() + timeout_s
    while True:
        a, b = await one.evaluate(CELLS_JS), await other.evaluate(CELLS_JS)
        if a == b or time.monotonic() > deadline:
            return a, b
        await one.wait_for_timeout(100)


def differences(one, other):
    """The lanes that differ, each as its cells (offset, key tooltip, hollow) on both pages."""
    def short(lane):
        return [(c["record"].rsplit("/", 1)[1], c["title"].split(" · ")[1:2], c["unseen"])
                for c in lane]
    return {name: (short(one.get(name, [])), short(other.get(name, [])))
            for name in sorted(set(one) | set(other)) if one.get(name) != other.get(name)}


def drawn(cells):
    return sum(1 for lane in cells.values() for c in lane if "record" in c)


def hollow(cells):
    return [c["record"] for lane in cells.values() for c in lane if c.get("unseen")]


async def test_a_fresh_rooms_first_record_is_drawn_with_its_key(chromium, site, artifacts):
    page = await open_page(chromium, f"{site}/s/amazon-orders")
    # The scenario's producer sends order-1 at 0 ms, while the room is built: before the page.
    p = partition_for_key("order-1", 3)
    leader = f'.lane[data-topic="order-placed"][data-partition="{p}"][data-role="leader"]'
    first = await page.eval_on_selector_all(f"{leader} .cell", """(cs) => cs.map((c) =>
        [c.dataset.record, c.classList.contains("unseen"), c.title])""")
    # (Above the high watermark: at 0 ms no follower has fetched it yet.)
    assert first == [[f"order-placed/{p}/0", False,
                      "offset 0 · key order-1 · above the high watermark"]]
    assert hollow(await page.evaluate(CELLS_JS)) == []
    # Its trail is known too: the inspector shows the record, not "arrived before this page".
    await page.click(f"{leader} .lane-label")
    await page.click('#inspector-facts button[data-inspect="record"]')
    await page.wait_for_selector("#inspector-facts .rec-key")
    assert "arrived before this page connected" not in await page.inner_text("#inspector-facts")
    assert "order-1" in await page.inner_text("#inspector-facts .rec-key")
    await page.screenshot(path=str(artifacts / "late-joiner-fresh-room-1440.png"))
    assert page.errors == []
    await page.context.close()


async def test_a_late_viewer_sees_the_same_cells_as_a_viewer_who_watched(chromium, site, artifacts):
    teacher = await open_page(chromium, f"{site}/s/amazon-orders")
    room_url = teacher.url
    await teacher.evaluate('() => window.playground.socket.control("speed", {speed: 4})')
    await teacher.click("#play")
    await teacher.wait_for_function(f"({PRODUCED_JS})() >= 12", timeout=20_000)

    # The student opens the room while it plays, then the teacher pauses: both pages reach the
    # same event, and (records produced in between included) must draw the same cells.
    student = await open_page(chromium, room_url)
    await teacher.click("#play")
    await teacher.wait_for_selector("#paused:not([hidden])")
    await student.wait_for_function(
        "(seq) => window.playground.model.seq === seq",
        arg=await teacher.evaluate("window.playground.model.seq"), timeout=10_000)
    watched, joined = await same_cells(teacher, student)
    assert drawn(watched) >= 12  # a dozen records, each once on its partition's row
    assert hollow(watched) == [] and hollow(joined) == []
    assert joined == watched, differences(watched, joined)
    # The consumer chips name the records in hand by key: none is "∅" (unknown).
    assert "∅" not in await student.inner_text("#groups")
    await teacher.screenshot(path=str(artifacts / "late-joiner-teacher-1440.png"))
    await student.screenshot(path=str(artifacts / "late-joiner-student-1440.png"))

    await student.reload()
    await student.wait_for_selector('#conn[data-state="open"]')
    watched, reloaded = await same_cells(teacher, student)
    assert reloaded == watched, differences(watched, reloaded)

    forked = await teacher.evaluate("() => window.playground.socket.fork()")
    fork = await open_page(chromium, f"{site}{forked['url']}")
    watched, in_fork = await same_cells(teacher, fork)
    assert in_fork == watched, differences(watched, in_fork)
    await fork.screenshot(path=str(artifacts / "late-joiner-fork-1440.png"))
    assert teacher.errors == [] and student.errors == [] and fork.errors == []
    for page in (teacher, student, fork):
        await page.context.close()
