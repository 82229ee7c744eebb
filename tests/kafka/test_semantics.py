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


def produce(live, topic: str, batches: dict, acks: int = 1, port: int | None = None,
            version: int = 7):
    """A raw Produce request ({partition: records bytes}); the decoded response's
    {partition: (error_code, base_offset)}."""
    import socket

    from kafka.protocol.producer import ProduceRequest, ProduceResponse

    from tests.kafka.test_failures import read_frame
    from tests.kafka.test_protocol import request_bytes

    request = ProduceRequest[version](transactional_id=None, acks=acks, timeout_ms=5_000,
                                      topic_data=[ProduceRequest.TopicProduceData(
                                          name=topic, partition_data=[
                                              ProduceRequest.TopicProduceData
                                              .PartitionProduceData(index=p, records=r)
                                              for p, r in batches.items()])])
    with socket.create_connection(("127.0.0.1", port or live.port), timeout=10) as sock:
        sock.sendall(request_bytes(request, version))
        response = ProduceResponse.decode(read_frame(sock)[4:], version=version)
    [t] = response.responses
    return {p.index: (p.error_code, p.base_offset) for p in t.partition_responses}


def leaders(live, topic: str) -> list[int]:
    return [p["leader"] for p in live.snapshot()["topics"][topic]["partitions"]]


def test_a_decompression_bomb_is_refused_with_message_too_large(live):
    from playground.kafka import codec
    from tests.kafka.test_codec import build, gzip_bomb_batch

    create_topic(live, "bombed", 4)
    # Two partitions led by one broker (4 partitions on 3 brokers: there are two).
    by_leader = {}
    for p, b in enumerate(leaders(live, "bombed")):
        by_leader.setdefault(b, []).append(p)
    broker, (a, b) = next((k, v[:2]) for k, v in by_leader.items() if len(v) > 1)
    port = live.port + broker - 1
    bomb = gzip_bomb_batch(codec.MAX_DECOMPRESSED_BYTES + 1)
    assert len(bomb) < 200_000
    answer = produce(live, "bombed", {a: bomb, b: build([(b"k", b"fine", [])], 1)}, port=port)
    assert answer == {a: (10, -1), b: (0, 0)}  # MESSAGE_TOO_LARGE; the other lands
    # The budget is the request's: batches that fit alone do not all fit together.
    half = gzip_bomb_batch(codec.MAX_DECOMPRESSED_BYTES // 2 + 1)
    answer = produce(live, "bombed", {a: half, b: half}, port=port)
    assert answer[a][0] == 87 and answer[b][0] == 10  # a 32 MiB value: INVALID_RECORD
    # Nothing of the refused batches entered the model.
    parts = live.snapshot()["topics"]["bombed"]["partitions"]
    assert [p["high_watermark"] for p in parts] == [int(p == b) for p in range(4)]


def test_records_up_to_max_message_bytes_land_and_larger_ones_get_message_too_large(live):
    """The model refused values over 1,000,000 characters as an invalid command
    (INVALID_RECORD) before max.message.bytes (1,048,588) could answer as Kafka does."""
    from tests.kafka.test_codec import build

    create_topic(live, "big", 1)
    port = live.port + leaders(live, "big")[0] - 1
    fits = build([(None, b"v" * 1_040_000, [])])
    assert produce(live, "big", {0: fits}, port=port) == {0: (0, 0)}
    too_big = build([(None, b"v" * 1_100_000, [])])
    assert produce(live, "big", {0: too_big}, port=port)[0][0] == 10  # MESSAGE_TOO_LARGE
