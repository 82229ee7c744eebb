"""Produce and consume round trips with the three real clients, keys landing where Java's
partitioner puts them (murmur2), and every compression codec."""

import asyncio
import time

import pytest

from broker_core import reads
from broker_core.partitioner import murmur2

N = 300


def java_partition(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def expected(n: int = N, prefix: str = "k") -> list[tuple[bytes, bytes]]:
    return [(f"{prefix}{i}".encode(), b"\xff\x00binary-" + str(i).encode() * 10)
            for i in range(n)]


def create_topic(live, name: str, partitions: int, rf: int = 1) -> None:
    live.apply({"type": "topic.create", "name": name, "partitions": partitions,
                "replication_factor": rf})


def by_partition(records) -> dict[int, list[tuple[bytes, bytes]]]:
    out: dict[int, list] = {}
    for partition, key, value in records:
        out.setdefault(partition, []).append((key, value))
    return out


def check_landing(live, topic: str, records, partitions: int) -> None:
    got = by_partition(records)
    for partition, items in got.items():
        for key, _ in items:
            assert java_partition(key, partitions) == partition
    # What the clients read is exactly what the model holds, in order.
    state = live.snapshot()["topics"][topic]["partitions"]
    assert sum(p["high_watermark"] for p in state) == sum(len(v) for v in got.values())


def test_kafka_python_round_trip_with_java_key_placement(live):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    create_topic(live, "kp", 6)
    producer = KafkaProducer(bootstrap_servers=live.bootstrap, acks="all", linger_ms=2,
                             request_timeout_ms=10_000)
    sent = expected()
    futures = [producer.send("kp", key=k, value=v, headers=[("h", b"\x01")]) for k, v in sent]
    producer.flush(20)
    metas = [f.get(5) for f in futures]
    producer.close(5)
    for (key, _), meta in zip(sent, metas, strict=True):
        assert meta.partition == java_partition(key, 6)

    consumer = KafkaConsumer(bootstrap_servers=live.bootstrap, consumer_timeout_ms=2_000,
                             request_timeout_ms=10_000)
    tps = [TopicPartition("kp", p) for p in range(6)]
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, 0)
    got = []
    deadline = time.monotonic() + 20
    while len(got) < N and time.monotonic() < deadline:
        for tp, msgs in consumer.poll(timeout_ms=500).items():
            got += [(tp.partition, m.key, m.value, m.offset, m.headers) for m in msgs]
    consumer.close()
    assert sorted((k, v) for _, k, v, _, _ in got) == sorted(sent)
    assert all(h == [("h", b"\x01")] for *_, h in got)
    for p in range(6):
        offsets = [o for part, _, _, o, _ in got if part == p]
        assert offsets == list(range(len(offsets)))  # dense, in order
    check_landing(live, "kp", [(p, k, v) for p, k, v, _, _ in got], 6)
    replays_exactly(live)


def replays_exactly(live) -> None:
    """What real clients did is in the room's recording: replaying it rebuilds the same
    cluster, event for event."""
    from broker_core.checkers import digest
    from playground.rooms.room import Room

    def both():
        room = live.room
        recording = room.recording()
        twin = Room.replay(recording, build=room.build, layer=room.layer, clock=room.clock)
        return (digest([room.cluster.snapshot(), room.cluster.seq]),
                digest([twin.cluster.snapshot(), twin.cluster.seq]))

    original, replayed = live.call(both)
    assert original == replayed


def test_aiokafka_round_trip_with_java_key_placement(live):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    create_topic(live, "aio", 4)
    sent = expected(prefix="a")

    async def main():
        producer = AIOKafkaProducer(bootstrap_servers=live.bootstrap, acks="all",
                                    request_timeout_ms=10_000)
        await producer.start()
        try:
            futures = [await producer.send("aio", key=k, value=v) for k, v in sent]
            metas = [await f for f in futures]
        finally:
            await producer.stop()
        for (key, _), meta in zip(sent, metas, strict=True):
            assert meta.partition == java_partition(key, 4)
        consumer = AIOKafkaConsumer(bootstrap_servers=live.bootstrap,
                                    request_timeout_ms=10_000)
        await consumer.start()
        try:
            tps = [TopicPartition("aio", p) for p in range(4)]
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, 0)
            got = []
            async with asyncio.timeout(20):
                while len(got) < N:
                    batch = await consumer.getmany(timeout_ms=500)
                    for tp, msgs in batch.items():
                        got += [(tp.partition, m.key, m.value) for m in msgs]
        finally:
            await consumer.stop()
        return got

    got = asyncio.run(main())
    assert sorted((k, v) for _, k, v in got) == sorted(sent)
    check_landing(live, "aio", got, 4)
    replays_exactly(live)


def test_confluent_round_trip_with_murmur2_random(live):
    from confluent_kafka import Consumer, Producer, TopicPartition

    create_topic(live, "ck", 5)
    sent = expected(prefix="c")
    producer = Producer({"bootstrap.servers": live.bootstrap, "partitioner": "murmur2_random",
                         "acks": "all", "linger.ms": 2})
    reports = []
    for k, v in sent:
        producer.produce("ck", key=k, value=v,
                         on_delivery=lambda err, msg: reports.append((err, msg)))
    assert producer.flush(20) == 0
    assert len(reports) == N and all(err is None for err, _ in reports)
    for _, msg in reports:
        assert msg.partition() == java_partition(msg.key(), 5)

    consumer = Consumer({"bootstrap.servers": live.bootstrap, "group.id": "unused-ck",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition("ck", p, 0) for p in range(5)])
    got = []
    deadline = time.monotonic() + 20
    while len(got) < N and time.monotonic() < deadline:
        for m in consumer.consume(num_messages=500, timeout=0.5):
            assert m.error() is None, m.error()
            got.append((m.partition(), m.key(), m.value()))
    consumer.close()
    assert sorted((k, v) for _, k, v in got) == sorted(sent)
    check_landing(live, "ck", got, 5)


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compressed_batches_from_each_codec_are_stored_exactly(live, codec):
    from confluent_kafka import Producer

    from playground.kafka.codec import from_model

    producer = Producer({"bootstrap.servers": live.bootstrap, "compression.type": codec,
                         "linger.ms": 20, "acks": "1"})
    sent = expected(50, prefix=codec)
    for k, v in sent:
        producer.produce(f"z-{codec}", key=k, value=v)
    assert producer.flush(20) == 0
    records = live.call(lambda: reads.records(live.room.cluster, f"z-{codec}", 0, 0, 10**7))
    # Auto-created (num.partitions 1): every record in one partition, in the order sent.
    assert [(from_model(k), from_model(v)) for _, k, v, _, _ in records["records"]] == sent


def test_a_long_polling_fetch_answers_as_soon_as_a_record_is_committed(live):
    """Fetch waits up to max_wait_ms for min_bytes, but answers when data arrives: a record
    produced while the consumer waits reaches it in far less than the 5 s it may wait."""
    import threading

    from confluent_kafka import Consumer, Producer, TopicPartition

    create_topic(live, "poll", 1, rf=3)
    consumer = Consumer({"bootstrap.servers": live.bootstrap, "group.id": "unused-poll",
                         "fetch.wait.max.ms": 5_000, "enable.auto.commit": False})
    consumer.assign([TopicPartition("poll", 0, 0)])
    consumer.consume(1, 1.0)  # the first (empty) long poll is under way
    sent_at = {}

    def produce_later():
        time.sleep(0.3)
        producer = Producer({"bootstrap.servers": live.bootstrap, "acks": "all"})
        sent_at["t"] = time.monotonic()
        producer.produce("poll", value=b"now")
        producer.flush(5)

    threading.Thread(target=produce_later).start()
    messages = []
    deadline = time.monotonic() + 10
    while not messages and time.monotonic() < deadline:
        messages = [m for m in consumer.consume(1, 0.1) if m.error() is None]
    received = time.monotonic()
    consumer.close()
    assert messages and messages[0].value() == b"now"
    assert received - sent_at["t"] < 1.5  # well inside fetch.wait.max.ms
