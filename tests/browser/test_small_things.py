"""Small things a user notices (issue 12), in Chromium: /s/youtube-upload's produce form offers
that story's own next record (video-21, not another story's order-17), and its topics and
groups are drawn in the scenario's order, the same after a reload and in a student's fork.
Screenshots go to artifacts/browser/small-things-*.png."""

import re

import pytest

from broker_core.scenarios import load_builtin
from tests.browser.pages import new_page

pytestmark = pytest.mark.asyncio(loop_scope="module")

SIDE = re.compile(r"(-dlt|-retry(-\d+)?|\.DLT|-dlq)$", re.I)  # this story's dead-letter topics

# What the page draws, in DOM order: the topics (the topics view), the dead-letter topics
# among them, the consumer groups, and the produce form's topic choices.
DRAWN_JS = """() => ({
  brokers: [[...document.querySelectorAll('#brokers .topic-card:not(.side)')]
    .map((b) => b.dataset.topicBlock)],
  side: [...document.querySelectorAll('#brokers .topic-card.side')]
    .map((b) => b.dataset.topicBlock),
  groups: [...document.querySelectorAll('section[data-group]')].map((g) => g.dataset.group),
  choices: [...document.querySelectorAll('#p-topic option')].map((o) => o.value),
  form: Object.fromEntries(["topic", "key", "value", "acks"].map((name) =>
    [name, document.querySelector(`#p-${name}`).value])),
})"""


async def drawn(page) -> dict:
    await page.wait_for_selector('#conn[data-state="open"]')
    await page.wait_for_selector("section[data-group]")
    return await page.evaluate(DRAWN_JS)


def assert_scenario_order(seen: dict, spec: dict) -> None:
    topics = [t["name"] for t in spec["topics"]]
    main = [t for t in topics if not SIDE.search(t)]
    for lanes in seen["brokers"]:
        assert lanes == [t for t in main if t in lanes]  # each card: the scenario's order
    assert {t for lanes in seen["brokers"] for t in lanes} == set(main)
    assert seen["side"] == [t for t in topics if SIDE.search(t)]
    assert seen["groups"] == [g["name"] for g in spec["groups"]]
    # The form's topics: the producers' first, then the rest, in the scenario's order.
    used = [p["topic"] for p in spec["producers"]]
    assert seen["choices"] == [t for t in topics if t in used] + [t for t in topics
                                                                  if t not in used]


async def test_youtube_upload_offers_its_own_record_and_keeps_its_order(chromium, site,
                                                                        artifacts):
    spec = load_builtin("youtube-upload")
    teacher = await new_page(chromium)
    await teacher.goto(f"{site}/s/youtube-upload")
    first = await drawn(teacher)
    # 20 uploads (video-1 .. video-20): the learner's record is the next one, valued as they are.
    assert first["form"] == {"topic": "video-uploaded", "key": "video-21",
                             "value": '{"video": "video-21"}', "acks": "all"}
    assert_scenario_order(first, spec)
    # The log's hint names this story's things too.
    assert await teacher.get_attribute("#log-filter", "placeholder") == \
        "filter: broker, copyright-check, video-21…"
    await teacher.screenshot(path=str(artifacts / "small-things-youtube-1440.png"))

    await teacher.reload()
    again = await drawn(teacher)
    assert again == first
    await teacher.screenshot(path=str(artifacts / "small-things-youtube-reloaded-1440.png"))

    # A student forks the teacher's room: the fork is drawn the same way.
    student = await new_page(chromium)
    await student.goto(teacher.url)
    await drawn(student)
    await student.click("#fork")
    await student.wait_for_url(lambda url: url != teacher.url, timeout=10_000)
    forked = await drawn(student)
    assert_scenario_order(forked, spec)
    assert forked["form"] == first["form"]
    await student.screenshot(path=str(artifacts / "small-things-youtube-fork-1440.png"))
    assert teacher.errors == [] and student.errors == []
    await teacher.context.close()
    await student.context.close()
