"""Real Kafka clients on the page: two kafka-python consumers in one group and a producer,
against what `make run` starts (runserver_kafka: Daphne and the wire listener in one process),
watched in Debian's Chromium at /r/live. The page must show that real clients chose the
assignment, who they are, which partitions each owns, and that the room runs at 1×.
"""

import asyncio
import threading

from tests.browser.conftest import CHROMIUM
from tests.browser.offline import CHROMIUM_FLAGS
from tests.kafka.conftest import web_with_listener  # noqa: F401  (the fixture)

TOPIC, GROUP = "orders", "inventory"


def _consume(bootstrap: str, stop: threading.Event, assigned: list, n: int) -> None:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(TOPIC, bootstrap_servers=bootstrap, group_id=GROUP,
                             client_id=f"inventory-{n}",
                             auto_offset_reset="earliest", session_timeout_ms=10_000,
                             heartbeat_interval_ms=1_000)
    try:
        while not stop.is_set():
            consumer.poll(timeout_ms=200)
            assigned.append(len(consumer.assignment()))
    finally:
        consumer.close()


async def test_a_group_of_real_clients_shows_its_choice_and_its_members(
        browser, web_with_listener, artifacts):  # noqa: F811
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    http_port, kafka_port = web_with_listener
    bootstrap = f"127.0.0.1:{kafka_port}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(TOPIC, num_partitions=4, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for i in range(20):
        producer.send(TOPIC, key=b"order-%d" % i, value=b"hello")
    producer.flush(10)
    producer.close(2)

    stop = threading.Event()
    seen = [[], []]
    threads = [threading.Thread(target=_consume, args=(bootstrap, stop, seen[i], i), daemon=True)
               for i in range(2)]
    for t in threads:
        t.start()
    try:
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        assert CHROMIUM and CHROMIUM_FLAGS  # the fixture's browser is Debian's Chromium
        await page.goto(f"http://127.0.0.1:{http_port}/r/live")
        group = page.locator(f'[data-group="{GROUP}"]')
        await group.locator(".badge.clients").wait_for(timeout=30_000)
        # Both members own partitions (4 between 2: the clients' range assignor splits 2/2).
        chips = group.locator("[data-consumer]")
        for _ in range(150):
            counts = [await chips.nth(i).locator(".tag").count()
                      for i in range(await chips.count())]
            if len(counts) == 2 and sorted(counts) == [2, 2]:
                break
            await asyncio.sleep(0.2)
        assert sorted(counts) == [2, 2], counts
        badge = await group.locator(".badge.clients").text_content()
        assert badge == "real clients · range"
        names = [await chips.nth(i).locator(".consumer-name").get_attribute("title")
                 for i in range(2)]
        assert sorted(n.split("@")[0] for n in names) == ["real client inventory-0",
                                                          "real client inventory-1"], names
        # Nothing on a real client's chip pretends the page could stop it.
        assert await group.locator("[data-action='consumer.crash']").count() == 0
        assert await group.locator("[data-action='consumer.add']").count() == 0
        # One person watches (the listener keeps the room awake but is not counted).
        assert await page.locator("#viewers").text_content() == "only you watching"
        # The room runs at 1× while they are connected: the page says so and offers no pause.
        assert await page.locator("#realtime").is_visible()
        assert await page.locator("#play").is_disabled()
        assert await page.locator("#speed").is_disabled()
        shot = artifacts / "live-clients-group.png"
        await page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
    finally:
        stop.set()
        for t in threads:
            t.join(15)
