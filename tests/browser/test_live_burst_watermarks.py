"""A real client's burst on /r/live: more records in a tick than a frame carries whole, so the
frames fold most of them into aggregates. The high watermark those records carried must reach
every page as well: a teacher and a student see every record below it, as the broker says,
none "above the high watermark" once the client has its acks."""

import asyncio

from tests.kafka.conftest import web_with_listener  # noqa: F401  (the fixture)

TOPIC = "orders"
PARTITIONS = 3


def _burst(bootstrap: str, n: int) -> list[tuple[int, int]]:
    """`n` keyed records in one go (acks=all, RF 1); each partition's (low, high) watermarks
    as the broker then reports them."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all"})
    for i in range(n):
        producer.produce(TOPIC, key=b"order-%d" % (i % 40), value=b"burst record %d" % i)
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
    try:
        return [consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)
                for p in range(PARTITIONS)]
    finally:
        consumer.close()


PAGE_STATE = """() => [...document.querySelectorAll('.lane[data-topic="orders"]')].map(lane => ({
  partition: Number(lane.dataset.partition),
  above: lane.querySelectorAll('.cell.above-hw').length,
  cells: lane.querySelectorAll('.cell').length,
  text: lane.textContent}))"""


async def test_a_burst_folded_into_aggregates_still_moves_every_pages_high_watermark(
        browser, web_with_listener, artifacts):  # noqa: F811
    from confluent_kafka.admin import AdminClient, NewTopic

    http_port, kafka_port = web_with_listener
    bootstrap = f"127.0.0.1:{kafka_port}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])[TOPIC].result(20)
    pages = {}
    for who, viewport, extra in (("teacher", {"width": 1440, "height": 900}, {}),
                                 ("student", {"width": 390, "height": 844},
                                  {"is_mobile": True, "has_touch": True})):
        context = await browser.new_context(viewport=viewport, **extra)
        page = await context.new_page()
        await page.goto(f"http://127.0.0.1:{http_port}/r/live")
        await page.locator('.lane[data-topic="orders"]').first.wait_for(timeout=30_000)
        pages[who] = page
    marks = await asyncio.get_running_loop().run_in_executor(None, _burst, bootstrap, 3_000)
    assert sum(high for _, high in marks) == 3_000
    for who, page in pages.items():
        lanes = []
        for _ in range(100):  # until every lane has drawn the burst's newest records
            lanes = await page.evaluate(PAGE_STATE)
            if len(lanes) == PARTITIONS and all(lane["cells"] for lane in lanes) and all(
                    f"{marks[lane['partition']][1]:,}" in lane["text"] for lane in lanes):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)  # a frame or two more: nothing left to arrive
        lanes = await page.evaluate(PAGE_STATE)
        shot = artifacts / f"live-burst-{who}.png"
        await page.screenshot(path=str(shot))
        print(shot)
        assert [lane["above"] for lane in lanes] == [0] * PARTITIONS, (who, lanes)
        await page.context.close()
