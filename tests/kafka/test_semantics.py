"""Kafka's answers where a learner's client meets the model's edges: records the page wrote,
error codes (follower, offset out of range, unknown topic, min.insync.replicas), Metadata
after a broker stops, ListOffsets after retention, and decompression bombs."""

import time

from tests.kafka.test_roundtrip import create_topic


def consume_all(live, topic: str, partitions: int, n: int, timeout: float = 15) -> list:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=live.bootstrap, request_timeout_ms=10_000,
                             consumer_timeout_ms=1_000)
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, 0)
    got = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < n and time.monotonic() < deadline:
            for _, msgs in consumer.poll(timeout_ms=300).items():
                got += [(m.key, m.value, m.headers) for m in msgs]
    finally:
        consumer.close()
    return got


def test_records_the_page_wrote_reach_wire_consumers_whatever_their_text(live):
    """The page's produce takes any text: text that looks like the codec's escape for binary
    data, once closed every Fetch of the partition (from_model raised binascii.Error)."""
    create_topic(live, "page", 1)
    for key, value in [("k", "\x00b64:not base64!"), ("\x00b64:aGk=", "plain"),
                       (None, "after")]:
        live.apply({"type": "produce", "topic": "page", "key": key, "value": value,
                    "headers": {"h": "\x00b64:%"}})
    live.call(live.room.advance, live.room.clock() + 1)
    got = consume_all(live, "page", 1, 3)
    assert [(k, v) for k, v, _ in got] == [
        (b"k", b"\x00b64:not base64!"), (b"\x00b64:aGk=", b"plain"), (None, b"after")]
    assert all(h == [("h", b"\x00b64:%")] for *_, h in got)
