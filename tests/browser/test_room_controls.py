"""Issue 5 on the room page, in Debian's Chromium against the real Daphne: topics created,
reconfigured, grown and deleted from the page; a consumer hung and let go; the presenter and a
viewer in two browser contexts (separate sessions); share → a replay room with its timeline →
fork; the embedded page without the site's chrome.

One browser for the whole module (each test opens its own contexts), to keep the run short.
Screenshots go to artifacts/browser/ (paths printed).
"""

import json
import re
import urllib.request

import pytest

from tests.browser.pages import new_page

pytestmark = pytest.mark.asyncio(loop_scope="module")

VIEWER_REASON = "The presenter drives this room. Fork it to try things yourself."
REPLAY_REASON = "This is a replay: fork it to take over."
PRESENTER_REFUSAL = "only the presenter drives this room; fork it to try things yourself"
NOW_JS = "window.playground.clock.read(performance.now())"


async def open_room(chromium, url):
    page = await new_page(chromium, (1280, 800))
    await page.goto(url)
    assert "/r/" in page.url
    await page.wait_for_selector('#conn[data-state="open"]')
    await page.wait_for_selector(".lane")
    return page


async def flash_text(page, text):
    await page.wait_for_function(
        """(t) => { const f = document.querySelector('#flash');
                   return !f.hidden && f.textContent.includes(t); }""",
        arg=text)


async def text_is(page, selector, text):
    await page.wait_for_function(
        "([s, t]) => document.querySelector(s)?.textContent === t", arg=[selector, text])


async def form_status(page, form_title, text):
    """Wait until the drawer form headed `form_title` reports `text`; returns what it says."""
    handle = await page.wait_for_function(
        """([title, text]) => {
             const f = [...document.querySelectorAll('#inspector-forms form')]
               .find((f) => f.querySelector('h3').textContent === title);
             const out = f && f.querySelector('.form-status').textContent;
             return out && out.includes(text) ? out : null;
           }""",
        arg=[form_title, text], timeout=10_000)
    return await handle.json_value()


def form(page, title):
    return page.locator("#inspector-forms form").filter(
        has=page.locator("h3", has_text=re.compile(f"^{re.escape(title)}$")))


async def shot(page, artifacts, name):
    path = artifacts / f"{name}.png"
    await page.screenshot(path=str(path))
    print(f"screenshot: {path}")


async def test_topics_are_created_reconfigured_grown_and_deleted_from_the_page(
    chromium, site, artifacts
):
    page = await open_room(chromium, f"{site}/s/amazon-orders")

    # Create one (the dead-letter kind: it gets the replay form too).
    await page.click('button[data-action="topic.create"]')
    create = form(page, "Create a topic")
    await create.locator('input[name="name"]').fill("order-placed-dlt")
    await create.locator('input[name="partitions"]').fill("2")
    await create.locator('button[type="submit"]').click()
    # Drawn apart from the data flow: the groups' policy makes it their dead-letter topic.
    await page.wait_for_selector('.topic-card.side[data-topic-block="order-placed-dlt"] .lane')

    # Its inspector, from its name over the lanes.
    await page.click('.topic-link[data-id="order-placed-dlt"]')
    await text_is(page, "#inspector-title", "Topic order-placed-dlt")
    replay = form(page, "Replay dead letters")
    await replay.locator('button[type="submit"]').click()
    said = await form_status(page, "Replay dead letters", "holds no dead-lettered records")
    assert said.startswith("command.topic:")

    # Reconfigure order-placed: retention to an hour, min.insync.replicas to 2.
    await page.click('.topic-link[data-id="order-placed"] >> nth=0')
    await text_is(page, "#inspector-title", "Topic order-placed")
    config = form(page, "Configuration")
    await config.locator('input[name="retention.ms"]').fill("3600000")
    await config.locator('input[name="min.insync.replicas"]').fill("2")
    await config.locator('button[type="submit"]').click()
    await form_status(page, "Configuration", "applied")
    await text_is(page, 'dd[data-config="retention.ms"]', "1 h (3,600,000 ms)")
    await text_is(page, 'dd[data-config="min.insync.replicas"]', "2")
    config_js = "(k) => window.playground.model.topics.get('order-placed').config[k]"
    assert await page.evaluate(config_js, "min.insync.replicas") == 2
    # A value the model refuses is refused at its field, and changes nothing.
    config = form(page, "Configuration")
    await config.locator('select[name="cleanup.policy"]').select_option("compact")
    await config.locator('button[type="submit"]').click()
    said = await form_status(page, "Configuration", "compaction")
    assert said.startswith("command.config.cleanup.policy:")
    # null resets to Kafka's default.
    config = form(page, "Configuration")
    await config.locator('select[name="cleanup.policy"]').select_option("delete")
    await config.locator('input[name="reset:min.insync.replicas"]').check()
    await config.locator('button[type="submit"]').click()
    await text_is(page, 'dd[data-config="min.insync.replicas"]', "1")
    # The open form follows: it shows the value now in force, the reset box cleared.
    min_isr = form(page, "Configuration").locator('input[name="min.insync.replicas"]')
    await page.wait_for_function("(i) => i.value === '1'", arg=await min_isr.element_handle())
    assert not await form(page, "Configuration").locator(
        'input[name="reset:min.insync.replicas"]').is_checked()

    # Grow: a fourth partition's lanes appear on the brokers.
    grow = form(page, "Add partitions")
    await grow.locator('input[name="partitions"]').fill("4")
    await grow.locator('button[type="submit"]').click()
    fourth = '.lane[data-topic="order-placed"][data-partition="3"][data-role="leader"]'
    await page.wait_for_selector(fourth, state="attached")
    await page.wait_for_function(
        "() => document.querySelector('#inspector-facts .topic-partitions').children.length === 4")
    await shot(page, artifacts, "topic-inspector-1280")

    # Delete asks first; Cancel keeps it.
    delete = form(page, "Delete")
    await delete.locator('button[type="submit"]').click()
    await page.wait_for_selector("dialog#confirm[open]")
    assert await page.text_content("#confirm-title") == "Delete topic order-placed?"
    assert await page.evaluate("document.activeElement.id") == "confirm-cancel"
    await page.click("#confirm-cancel")
    await form_status(page, "Delete", "kept")
    assert await page.locator('.lane[data-topic="order-placed"]').count() > 0
    # Then deleted: its lanes go, the inspector says so, the log has it.
    await form(page, "Delete").locator('button[type="submit"]').click()
    await page.click("#confirm-ok")
    await page.wait_for_selector('.lane[data-topic="order-placed"]', state="detached")
    await page.wait_for_selector("#inspector-facts .gone")
    assert await page.locator("#inspector-forms form").count() == 0
    assert "order-placed" not in await page.evaluate("[...window.playground.model.topics.keys()]")
    await page.click("#log-toggle")
    for kind in ("topic.deleted", "topic.config_changed", "topic.partitions_added"):
        await page.wait_for_selector(f'#log-list li[data-type="{kind}"]', state="attached")
    assert not page.errors, page.errors
    await page.context.close()


async def test_a_consumer_is_hung_and_let_go_from_its_chip(chromium, site):
    page = await open_room(chromium, f"{site}/s/amazon-orders")
    await page.click("#play")
    hang = '[data-group="inventory"] button[data-action="consumer.hang"]'
    await page.wait_for_selector(hang)
    consumer = await page.get_attribute(hang + " >> nth=0", "data-id")
    button = f'[data-group="inventory"] button[data-action="consumer.hang"][data-id="{consumer}"]'
    chip = f'[data-group="inventory"] [data-consumer="{consumer}"]'
    # The chip's buttons show on hover (or keyboard focus).
    await page.hover(chip)
    await page.click(button)
    await page.wait_for_selector(f'{button}[aria-pressed="true"]', state="attached")
    await page.wait_for_selector(f"{chip} .mark-hung")
    hung_js = "(c) => window.playground.model.groups.get('inventory').consumers.get(c).hung"
    assert await page.evaluate(hung_js, consumer) is True
    await page.hover(chip)
    await page.click(button)
    await page.wait_for_selector(f'{button}[aria-pressed="false"]', state="attached")
    assert await page.evaluate(hung_js, consumer) is False
    assert not page.errors, page.errors
    await page.context.close()


# --- needs the rooms server of issue 5 (you / room / share / fork / seek) -----------------------

async def test_a_viewer_sees_the_controls_disabled_with_the_reason_and_gets_the_refusal(
    chromium, site, artifacts
):
    presenter = await open_room(chromium, f"{site}/s/amazon-orders")
    await text_is(presenter, "#drive-text", "You are presenting.")
    assert await presenter.is_visible("#open-toggle")
    assert not await presenter.is_disabled('[data-action="broker.stop"] >> nth=0')

    viewer = await open_room(chromium, presenter.url)  # a new context: another session
    await text_is(viewer, "#drive-text", VIEWER_REASON)
    stop = '[data-broker="3"] button[data-action="broker.stop"][data-mode="clean"]'
    create = 'button[data-action="topic.create"]'
    for sel in (stop, "#produce-form button[type=submit]", "#play", "#step", create):
        assert await viewer.is_disabled(sel), sel
        assert await viewer.get_attribute(sel, "title") == VIEWER_REASON, sel
    assert await viewer.is_visible("#fork") and not await viewer.is_visible("#open-toggle")
    # Rebuilt controls stay disabled (the renderer rebuilds the broker cards on a leader change).
    await viewer.evaluate("window.playground.renderer.markAll()")
    await viewer.wait_for_timeout(100)
    assert await viewer.is_disabled(stop)
    await shot(viewer, artifacts, "viewer-locked-1280")

    # A command that comes anyway (a page that did not hear in time) gets the server's refusal.
    await viewer.evaluate(
        "(s) => { const b = document.querySelector(s); b.disabled = false; b.click(); }", stop)
    await flash_text(viewer, PRESENTER_REFUSAL)
    assert await viewer.evaluate("window.playground.model.brokers.get(3).up") is True

    # The presenter lets everyone drive: the viewer's controls come alive, and work.
    await presenter.check("#open-toggle")
    await viewer.wait_for_function(f"() => !document.querySelector('{stop}').disabled")
    await text_is(viewer, "#drive-text", "The presenter lets everyone drive this room.")
    await viewer.click(stop)
    await presenter.wait_for_selector('[data-broker="3"].down')
    # And takes it back.
    await presenter.uncheck("#open-toggle")
    await viewer.wait_for_function("() => document.querySelector('#play').disabled")
    assert not viewer.errors and not presenter.errors, (viewer.errors, presenter.errors)
    await viewer.context.close()
    await presenter.context.close()


async def test_share_gives_a_link_to_a_replay_with_a_timeline_and_fork(chromium, site, artifacts):
    page = await open_room(chromium, f"{site}/s/amazon-orders")
    await page.click('[data-broker="2"] button[data-action="broker.stop"][data-mode="clean"]')
    await page.wait_for_selector('[data-broker="2"].down')
    await page.click('button[data-jump="60000"]')
    await page.wait_for_function(f"() => {NOW_JS} >= 60000")
    await page.click('[data-broker="2"] button[data-action="broker.start"]')
    await page.wait_for_selector('[data-broker="2"]:not(.down)')
    await page.click('button[data-jump="60000"]')
    await page.wait_for_function(f"() => {NOW_JS} >= 120000")

    await page.click("#share")
    await page.wait_for_selector("#share-panel:not([hidden])")
    url = await page.input_value("#share-url")
    m = re.fullmatch(re.escape(site) + r"/s/([A-Za-z0-9_-]+)", url)
    assert m, url
    slug = m.group(1)
    assert await page.evaluate("document.activeElement.id") == "share-url"
    assert (await page.text_content("#share-status")).startswith("Link ready: ")
    assert await page.get_attribute("#share-export", "href") == f"/s/{slug}/export"
    with urllib.request.urlopen(f"{site}/s/{slug}/export", timeout=10) as r:
        doc = json.loads(r.read())
    assert doc["format"] == "playground.recording"
    times = sorted({e["at_ms"] for e in doc["log"]})
    assert doc["end_ms"] >= 120000 and len(times) >= 2

    replay = await open_room(chromium, url)
    await replay.wait_for_selector("#session.replaying #replay:not([hidden])")
    assert (await replay.text_content("#drive-text")) == f"Replay of {slug} — fork from here"
    assert await replay.get_attribute("#scrub", "max") == str(doc["end_ms"])
    await replay.wait_for_function(
        "(n) => document.querySelectorAll('#scrub-marks .scrub-mark').length === n", arg=len(times))
    marks = await replay.eval_on_selector_all(
        "#scrub-marks .scrub-mark", "(ms) => ms.map((m) => Number(m.dataset.at))")
    assert marks == times
    for sel in ('button[data-action="broker.stop"] >> nth=0', "#produce-form button[type=submit]"):
        assert await replay.is_disabled(sel)
        assert await replay.get_attribute(sel, "title") == REPLAY_REASON
    assert not await replay.is_disabled("#play") and not await replay.is_disabled("#scrub")

    # The replay starts at 0 with broker 2 already stopped (its command was at 0). Scrub past
    # the start command: the room rebuilds there, broker 2 up.
    stopped = next(e["at_ms"] for e in doc["log"] if e["command"]["type"] == "broker.stop")
    started = next(e["at_ms"] for e in doc["log"] if e["command"]["type"] == "broker.start")
    await replay.wait_for_selector('[data-broker="2"].down')
    await replay.eval_on_selector("#scrub", """(s, to) => { s.value = String(to);
        s.dispatchEvent(new Event('input', {bubbles: true}));
        s.dispatchEvent(new Event('change', {bubbles: true})); }""", started + 1)
    await replay.wait_for_selector('[data-broker="2"]:not(.down)')
    assert await replay.evaluate(NOW_JS) > started
    # By keyboard: Shift+← twice, to the recorded commands before (the start, then the stop),
    # then → 1 % further on; one seek once the keys rest. Broker 2 is down again.
    await replay.focus("#scrub")
    await replay.keyboard.press("Shift+ArrowLeft")
    assert await replay.input_value("#scrub") == str(started)
    await replay.keyboard.press("Shift+ArrowLeft")
    assert await replay.input_value("#scrub") == str(stopped)
    await replay.keyboard.press("ArrowRight")
    there = stopped + round(doc["end_ms"] / 100)
    assert await replay.input_value("#scrub") == str(there)
    await replay.wait_for_selector('[data-broker="2"].down')
    assert there <= await replay.evaluate(NOW_JS) < started
    await shot(replay, artifacts, "replay-scrubbed-1280")

    # Fork from here: a live room of one's own, paused where the replay was.
    await replay.click("#fork")
    await replay.wait_for_url(re.compile(r"/r/[0-9a-f]+$"))
    assert replay.url != page.url
    await replay.wait_for_selector('#conn[data-state="open"]')
    await text_is(replay, "#drive-text", "You are presenting.")
    assert await replay.is_hidden("#replay")
    await replay.wait_for_selector('[data-broker="2"].down')
    assert there <= await replay.evaluate(NOW_JS) < started
    assert await replay.get_attribute("#play", "aria-pressed") == "false"
    assert not await replay.is_disabled('[data-broker="2"] button[data-action="broker.start"]')
    assert not page.errors and not replay.errors, (page.errors, replay.errors)
    await replay.context.close()
    await page.context.close()


async def test_the_embedded_room_has_no_site_chrome(chromium, site, artifacts):
    page = await new_page(chromium, viewport=(900, 600))
    await page.goto(f"{site}/s/amazon-orders?embed=1")
    assert re.search(r"/r/[0-9a-f]+\?embed=1$", page.url), page.url
    await page.wait_for_selector('#conn[data-state="open"]')
    await page.wait_for_selector(".lane")
    assert "embed" in await page.get_attribute("body", "class")
    assert await page.locator(".brand").count() == 0
    for sel in ("#share", "#help", "#log", "#legend", "#session"):
        assert await page.is_hidden(sel), sel
    for sel in ("#play", "#step", "#speed", "#clock", "#brokers", "#groups", "#full-page"):
        assert await page.is_visible(sel), sel
    await shot(page, artifacts, "embed-900")
    assert not page.errors, page.errors
    await page.context.close()
