"""What a client's record keeps through the listener, as Kafka keeps it: its own create time
(Fetch and ListOffsets by time answer with it), every header (a name sent twice included),
and the size limit counted on the batch, as Kafka counts max.message.bytes."""

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from .conftest import Live


@pytest.fixture
def live():
    server = Live()
    yield server
    server.close()


def topic(live, name: str, **config) -> None:
    live.apply({"type": "topic.create", "name": name, "partitions": 1,
                "replication_factor": 1, "config": config})


def read_all(live, name: str, n: int) -> list:
    c = Consumer({"bootstrap.servers": live.bootstrap, "group.id": f"read-{name}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.assign([TopicPartition(name, 0, 0)])
    out, deadline = [], time.monotonic() + 20
    while len(out) < n and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            out.append(m)
    c.close()
    assert len(out) == n
    return out


def test_a_records_create_time_is_kept_and_found_by_time(live):
    topic(live, "stamped")
    p = Producer({"bootstrap.servers": live.bootstrap})
    stamps = [1_600_000_000_000, 1_600_000_005_000, 1_600_000_001_000]  # not in order
    for i, ts in enumerate(stamps):
        p.produce("stamped", value=f"v{i}", timestamp=ts)
    assert p.flush(10) == 0
    got = read_all(live, "stamped", 3)
    assert [m.timestamp()[1] for m in got] == stamps
    c = Consumer({"bootstrap.servers": live.bootstrap, "group.id": "times"})
    try:
        def offset_for(ts: int) -> int:
            [tp] = c.offsets_for_times([TopicPartition("stamped", 0, ts)], timeout=10)
            return tp.offset
        # The first record at or after the time, as Kafka's time index answers.
        assert offset_for(1_600_000_000_000) == 0
        assert offset_for(1_600_000_000_001) == 1
        assert offset_for(1_600_000_005_001) == -1
    finally:
        c.close()


def test_records_the_model_wrote_carry_the_wall_clock_after_the_listener_waited(live):
    """The room's clock stands still until a client connects: a record the page produces then
    is stamped now, not now minus how long the listener waited."""
    topic(live, "page-made")
    time.sleep(1.5)
    c = Consumer({"bootstrap.servers": live.bootstrap, "group.id": "wall"})
    c.list_topics(timeout=10)  # connected: the room runs in real time from here
    try:
        live.apply({"type": "produce", "topic": "page-made", "partition": 0, "value": "x",
                    "acks": "1"})
        now_ms = time.time() * 1000
        [m] = read_all(live, "page-made", 1)
        assert abs(m.timestamp()[1] - now_ms) < 1_000
    finally:
        c.close()


def test_a_header_name_sent_twice_keeps_both_values_in_order(live):
    topic(live, "twice")
    p = Producer({"bootstrap.servers": live.bootstrap})
    p.produce("twice", value="v", headers=[("h", b"1"), ("other", b"x"), ("h", b"2")])
    assert p.flush(10) == 0
    [m] = read_all(live, "twice", 1)
    assert m.headers() == [("h", b"1"), ("other", b"x"), ("h", b"2")]


def test_the_size_limit_counts_the_batch_as_kafka_does(live):
    """max.message.bytes holds the record batch: a value a few bytes under the limit does not
    fit once the batch's 61-byte header and the record's framing are counted."""
    topic(live, "limited", **{"max.message.bytes": 10_000})
    p = Producer({"bootstrap.servers": live.bootstrap, "message.max.bytes": 1_000_000,
                  "linger.ms": 0, "retries": 0})
    errors = []
    p.produce("limited", value=b"x" * 9_990,
              on_delivery=lambda err, msg: errors.append(err))
    assert p.flush(10) == 0  # each in a batch of its own
    p.produce("limited", value=b"x" * 9_000,
              on_delivery=lambda err, msg: errors.append(err))
    assert p.flush(10) == 0
    assert [e.name() if e else None for e in errors] == ["MSG_SIZE_TOO_LARGE", None]


def test_a_page_record_over_the_limit_is_refused_by_the_model_too(live):
    topic(live, "limited-page", **{"max.message.bytes": 100})
    events = live.apply({"type": "produce", "topic": "limited-page", "partition": 0,
                         "value": "x" * 200, "acks": "1"})
    assert [e["error"] for e in events if e["type"] == "produce.failed"] == \
        ["MESSAGE_TOO_LARGE"]


def test_a_produce_over_the_frame_cap_is_answered_message_too_large(live):
    """A 9 MiB record: Kafka reads the request (up to socket.request.max.bytes) and answers
    MESSAGE_TOO_LARGE, so the producer fails the record at once; the listener closed the
    connection and the producer retried until its delivery timeout."""
    topic(live, "huge")
    p = Producer({"bootstrap.servers": live.bootstrap, "message.max.bytes": 20_000_000,
                  "retries": 0, "delivery.timeout.ms": 60_000})
    errors = []
    started = time.monotonic()
    p.produce("huge", value=b"x" * (9 * 1024 * 1024),
              on_delivery=lambda err, msg: errors.append(err))
    assert p.flush(30) == 0
    assert time.monotonic() - started < 20
    assert [e.name() for e in errors] == ["MSG_SIZE_TOO_LARGE"]
    # The same connection goes on: a small record after it is written.
    p.produce("huge", value=b"small", on_delivery=lambda err, msg: errors.append(err))
    assert p.flush(10) == 0 and errors[-1] is None
