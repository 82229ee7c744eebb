"""Real clients used as a learner would use them: library defaults, the README's examples,
the live room's own spec (group.initial.rebalance.delay.ms 3 s, as Kafka's default)."""

import asyncio
import time

import pytest

from broker_core import reads

WAIT_S = 40


def test_the_readme_kafka_python_example_with_a_group_works_end_to_end(live):
    from kafka import KafkaConsumer, KafkaProducer

    producer = KafkaProducer(bootstrap_servers=live.bootstrap, acks="all")
    producer.send("orders", key=b"order-17", value=b"hello").get(timeout=10)
    consumer = KafkaConsumer("orders", bootstrap_servers=live.bootstrap,
                             group_id="inventory", auto_offset_reset="earliest")
    got = []
    deadline = time.monotonic() + WAIT_S
    try:
        while not got and time.monotonic() < deadline:
            for msgs in consumer.poll(timeout_ms=500).values():
                got += [(m.key, m.value, m.offset) for m in msgs]
        assert got == [(b"order-17", b"hello", 0)]
        # More records reach the running member, and its auto-commit (on close) is kept.
        for i in range(3):
            producer.send("orders", key=b"order-17", value=b"more-%d" % i)
        producer.flush(10)
        while len(got) < 4 and time.monotonic() < deadline:
            for msgs in consumer.poll(timeout_ms=500).values():
                got += [(m.key, m.value, m.offset) for m in msgs]
        assert [o for *_, o in got] == [0, 1, 2, 3]
    finally:
        consumer.close()
    group = live.snapshot()["groups"]["inventory"]
    assert [(r["partition"], r["committed"]) for r in group["lag"]] == [(0, 4)]

    # A new consumer of the group resumes after the commit; one outside it reads everything.
    producer.send("orders", value=b"after").get(timeout=10)
    producer.close(5)
    resumed = KafkaConsumer("orders", bootstrap_servers=live.bootstrap,
                            group_id="inventory", auto_offset_reset="earliest")
    again = []
    try:
        while not again and time.monotonic() < deadline:
            for msgs in resumed.poll(timeout_ms=500).values():
                again += [(m.value, m.offset) for m in msgs]
    finally:
        resumed.close()
    assert again == [(b"after", 4)]


def test_aiokafka_group_with_auto_commit_resumes_where_it_left_off(live):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    async def main():
        producer = AIOKafkaProducer(bootstrap_servers=live.bootstrap, acks="all")
        await producer.start()
        try:
            for i in range(10):
                await producer.send_and_wait("aio-orders", b"v%d" % i)
        finally:
            await producer.stop()

        async def read(n: int) -> list:
            consumer = AIOKafkaConsumer("aio-orders", bootstrap_servers=live.bootstrap,
                                        group_id="aio-group", auto_offset_reset="earliest",
                                        auto_commit_interval_ms=200)
            await consumer.start()
            got = []
            try:
                async with asyncio.timeout(WAIT_S):
                    while len(got) < n:
                        batches = await consumer.getmany(timeout_ms=500, max_records=n - len(got))
                        for msgs in batches.values():
                            got += [(m.offset, m.value) for m in msgs]
            finally:
                await consumer.stop()  # commits what it consumed (auto-commit)
            return got

        first = await read(6)
        assert [o for o, _ in first] == list(range(6))
        second = await read(4)
        assert second == [(o, b"v%d" % o) for o in range(6, 10)]

    asyncio.run(main())


def test_confluent_idempotent_producer_and_consumer(live):
    from confluent_kafka import Consumer, Producer

    producer = Producer({"bootstrap.servers": live.bootstrap, "enable.idempotence": True,
                         "partitioner": "murmur2_random", "linger.ms": 5})
    delivered, errors = [], []

    def report(err, msg):
        (errors if err else delivered).append(err or (msg.partition(), msg.offset()))

    for i in range(200):
        producer.produce("idem", key=b"k%d" % (i % 7), value=b"v%d" % i, on_delivery=report)
    assert producer.flush(20) == 0
    assert not errors and len(delivered) == 200
    command = next(e["command"] for e in reversed(live.room.cluster.command_log)
                   if e["command"]["type"] == "produce.records")
    assert command["producer_id"] >= 0 and command["acks"] == "all"

    consumer = Consumer({"bootstrap.servers": live.bootstrap, "group.id": "idem-readers",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe(["idem"])
    got = []
    deadline = time.monotonic() + WAIT_S
    try:
        while len(got) < 200 and time.monotonic() < deadline:
            m = consumer.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value())
    finally:
        consumer.close()
    assert sorted(got) == sorted(b"v%d" % i for i in range(200))


@pytest.fixture
def kcat():
    from tests.conftest import require_program

    return require_program("kcat", "apt-get install kcat")


def test_kcat_produces_and_consumes(live, kcat):
    import subprocess

    produced = subprocess.run([kcat, "-b", live.bootstrap, "-t", "kc", "-K:", "-P"],
                              input=b"order-17:hello\norder-18:world\n", timeout=30,
                              capture_output=True)
    assert produced.returncode == 0, produced.stderr
    consumed = subprocess.run([kcat, "-b", live.bootstrap, "-t", "kc", "-C", "-e",
                               "-f", "%p %o %k %s\\n"], timeout=30, capture_output=True)
    assert consumed.returncode == 0, consumed.stderr
    assert consumed.stdout.decode().splitlines() == ["0 0 order-17 hello", "0 1 order-18 world"]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_aiokafka_compressed_batches_land_exactly(live, codec):
    """aiokafka writes batches with its own builder (not kafka-python's): every codec
    decodes through the listener's bounded decompressors."""
    from aiokafka import AIOKafkaProducer

    from playground.kafka.codec import from_model

    sent = [(b"k%d" % i, bytes([i % 256]) * 300 + b"\xff") for i in range(200)]

    async def main():
        producer = AIOKafkaProducer(bootstrap_servers=live.bootstrap, compression_type=codec,
                                    linger_ms=20, acks=1)
        await producer.start()
        try:
            futures = [await producer.send(f"az-{codec}", key=k, value=v) for k, v in sent]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    asyncio.run(main())
    records = live.call(lambda: reads.records(live.room.cluster, f"az-{codec}", 0, 0, 10**7))
    assert [(from_model(k), from_model(v)) for _, k, v, _, _ in records["records"]] == sent


def test_a_group_consumer_carries_on_when_its_coordinator_and_leader_stop(live):
    """Stopping a broker in the page: the group's coordinator moves to the next running broker
    and the partition's leader to a follower; the consumer finds both again and reads on."""
    from kafka import KafkaConsumer, KafkaProducer

    live.apply({"type": "topic.create", "name": "moving", "partitions": 1,
                "replication_factor": 3})
    producer = KafkaProducer(bootstrap_servers=live.bootstrap_all, acks="all")
    for i in range(5):
        producer.send("moving", b"before-%d" % i)
    producer.flush(10)
    consumer = KafkaConsumer("moving", bootstrap_servers=live.bootstrap_all,
                             group_id="movers", auto_offset_reset="earliest")
    got = []
    deadline = time.monotonic() + WAIT_S
    try:
        while len(got) < 5 and time.monotonic() < deadline:
            for msgs in consumer.poll(timeout_ms=300).values():
                got += [m.value for m in msgs]
        coordinator = live.call(live.listener.coordinator, "movers")
        leader = live.snapshot()["topics"]["moving"]["partitions"][0]["leader"]
        for broker in sorted({coordinator, leader}):
            live.apply({"type": "broker.stop", "broker": broker})
        for i in range(5):
            producer.send("moving", b"after-%d" % i)
        producer.flush(20)
        while len(got) < 10 and time.monotonic() < deadline:
            for msgs in consumer.poll(timeout_ms=300).values():
                got += [m.value for m in msgs]
    finally:
        consumer.close()
        producer.close(5)
    assert got == [b"before-%d" % i for i in range(5)] + [b"after-%d" % i for i in range(5)]
    assert live.call(live.listener.coordinator, "movers") != coordinator


def test_a_librdkafka_consumer_carries_on_when_its_partitions_leader_stops(live):
    """librdkafka validates its position with OffsetForLeaderEpoch after a leader change once
    the broker offers it, as the listener now does."""
    from confluent_kafka import Consumer, Producer

    live.apply({"type": "topic.create", "name": "rd-moving", "partitions": 1,
                "replication_factor": 3})
    producer = Producer({"bootstrap.servers": live.bootstrap_all, "acks": "all"})
    for i in range(5):
        producer.produce("rd-moving", b"before-%d" % i)
    assert producer.flush(10) == 0
    consumer = Consumer({"bootstrap.servers": live.bootstrap_all, "group.id": "rd-movers",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe(["rd-moving"])
    got = []
    deadline = time.monotonic() + WAIT_S
    try:
        while len(got) < 5 and time.monotonic() < deadline:
            m = consumer.poll(0.3)
            if m is not None and not m.error():
                got.append(m.value())
        leader = live.snapshot()["topics"]["rd-moving"]["partitions"][0]["leader"]
        live.apply({"type": "broker.stop", "broker": leader})
        for i in range(5):
            producer.produce("rd-moving", b"after-%d" % i)
        assert producer.flush(20) == 0
        while len(got) < 10 and time.monotonic() < deadline:
            m = consumer.poll(0.3)
            if m is not None and not m.error():
                got.append(m.value())
    finally:
        consumer.close()
    assert got == [b"before-%d" % i for i in range(5)] + [b"after-%d" % i for i in range(5)]
