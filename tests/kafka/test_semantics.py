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
    # Binary (not UTF-8) values weigh their bytes, not the base64 the model keeps them in.
    binary = build([(None, b"\xff" * 1_040_000, [])])
    assert produce(live, "big", {0: binary}, port=port) == {0: (0, 1)}
    assert produce(live, "big", {0: build([(None, b"\xff" * 1_100_000, [])])},
                   port=port)[0][0] == 10


def call(live, request, version: int, broker: int = 1):
    """One raw request to `broker`'s port; the decoded response."""
    import socket

    from playground.kafka import codec
    from tests.kafka.test_failures import read_frame
    from tests.kafka.test_protocol import request_bytes

    with socket.create_connection(("127.0.0.1", live.port + broker - 1), timeout=10) as sock:
        sock.sendall(request_bytes(request, version))
        frame = read_frame(sock)
    cls = codec.RESPONSES[request.API_KEY]
    header = 5 if cls.flexible_version_q(version) else 4
    return cls.decode(frame[header:], version=version)


def fetch(live, topic: str, partition: int, offset: int, broker: int, version: int = 12):
    from kafka.protocol.consumer import FetchRequest

    request = FetchRequest[version](
        replica_id=-1, max_wait_ms=0, min_bytes=1, max_bytes=1 << 20, isolation_level=0,
        session_id=0, session_epoch=-1, forgotten_topics_data=[], rack_id="",
        topics=[FetchRequest.FetchTopic(topic=topic, partitions=[
            FetchRequest.FetchTopic.FetchPartition(
                partition=partition, current_leader_epoch=-1, fetch_offset=offset,
                last_fetched_epoch=-1, log_start_offset=-1, partition_max_bytes=1 << 20)])])
    [t] = call(live, request, version, broker).responses
    [p] = t.partitions
    return p


def list_offsets(live, topic: str, partition: int, timestamp: int, broker: int):
    from kafka.protocol.consumer import ListOffsetsRequest

    request = ListOffsetsRequest[5](replica_id=-1, isolation_level=0, topics=[
        ListOffsetsRequest.ListOffsetsTopic(name=topic, partitions=[
            ListOffsetsRequest.ListOffsetsTopic.ListOffsetsPartition(
                partition_index=partition, current_leader_epoch=-1, timestamp=timestamp)])])
    [t] = call(live, request, 5, broker).topics
    [p] = t.partitions
    return p.error_code, p.offset


def metadata(live, topics, broker: int = 1, auto: bool = True, version: int = 9):
    from kafka.protocol.metadata import MetadataRequest

    request = MetadataRequest[version](
        topics=None if topics is None else [MetadataRequest.MetadataRequestTopic(name=t)
                                            for t in topics],
        allow_auto_topic_creation=auto, include_cluster_authorized_operations=False,
        include_topic_authorized_operations=False)
    return call(live, request, version, broker)


def test_kafka_error_codes_for_followers_offsets_and_unknown_topics(live):
    from tests.kafka.test_codec import build

    create_topic(live, "codes", 1, rf=2)
    [leader] = leaders(live, "codes")
    follower = next(b for b in (1, 2, 3) if b != leader)
    batch = build([(b"k", b"v", [])])
    # Produce and Fetch at a broker that does not lead the partition: NOT_LEADER_OR_FOLLOWER.
    assert produce(live, "codes", {0: batch}, port=live.port + follower - 1) == {0: (6, -1)}
    assert fetch(live, "codes", 0, 0, follower).error_code == 6
    assert list_offsets(live, "codes", 0, -1, follower) == (6, -1)
    assert produce(live, "codes", {0: batch}, port=live.port + leader - 1) == {0: (0, 0)}
    # A partition the topic lacks, and a topic nobody created (Produce never creates one).
    assert produce(live, "codes", {5: batch}, port=live.port + leader - 1) == {5: (3, -1)}
    assert produce(live, "nowhere", {0: batch}) == {0: (3, -1)}
    assert "nowhere" not in live.snapshot()["topics"]
    # Fetch past the log end: OFFSET_OUT_OF_RANGE, with the high watermark to reset from.
    time.sleep(0.3)  # the follower's fetch moves the high watermark
    p = fetch(live, "codes", 0, 5, leader)
    assert (p.error_code, p.high_watermark, p.log_start_offset) == (1, 1, 0)
    p = fetch(live, "codes", 0, 0, leader)
    assert p.error_code == 0 and p.records
    # Metadata without auto-creation: UNKNOWN_TOPIC_OR_PARTITION, nothing created.
    [t] = metadata(live, ["ghost"], auto=False).topics
    assert (t.name, t.error_code) == ("ghost", 3) and "ghost" not in live.snapshot()["topics"]


def test_unknown_topics_are_not_created_when_the_cluster_disables_it():
    from tests.kafka.conftest import LIVE_SPEC, Live

    live = Live({**LIVE_SPEC, "cluster_config": {**LIVE_SPEC["cluster_config"],
                                                 "auto.create.topics.enable": False}})
    try:
        [t] = metadata(live, ["ghost"], auto=True).topics
        assert t.error_code == 3 and "ghost" not in live.snapshot()["topics"]
    finally:
        live.close()


def test_metadata_after_a_broker_stops_moves_leaders_and_drops_the_broker(live):
    create_topic(live, "moving", 3, rf=3)
    before = leaders(live, "moving")
    live.apply({"type": "broker.stop", "broker": 2})  # a controlled shutdown
    md = metadata(live, ["moving"], broker=1)
    assert sorted(b.node_id for b in md.brokers) == [1, 3]
    [t] = md.topics
    now = {p.partition_index: p.leader_id for p in t.partitions}
    assert 2 not in now.values() and all(p.error_code == 0 for p in t.partitions)
    assert all(2 not in p.isr_nodes for p in t.partitions)
    assert [now[i] for i in range(3)] != before or 2 not in before
    # A crashed broker stays listed (its ZooKeeper session lives on) but its port is closed.
    live.apply({"type": "broker.start", "broker": 2})
    live.apply({"type": "broker.stop", "broker": 3, "mode": "crash"})
    md = metadata(live, ["moving"], broker=1)
    assert sorted(b.node_id for b in md.brokers) == [1, 2, 3]
    [t] = md.topics
    assert all(3 in p.offline_replicas for p in t.partitions)


def test_list_offsets_after_retention_deleted_records_starts_at_the_log_start():
    from tests.kafka.conftest import LIVE_SPEC, Live
    from tests.kafka.test_codec import build

    spec = {**LIVE_SPEC, "cluster_config": {**LIVE_SPEC["cluster_config"],
                                            "log.retention.check.interval.ms": 100},
            "topics": [{"name": "short", "partitions": 1, "replication_factor": 1,
                        "config": {"retention.ms": 300}}]}
    live = Live(spec)
    try:
        [leader] = leaders(live, "short")
        port = live.port + leader - 1
        assert produce(live, "short", {0: build([(None, b"a", [])] * 3)}, port=port) \
            == {0: (0, 0)}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and list_offsets(live, "short", 0, -2, leader)[1] != 3:
            time.sleep(0.1)
        assert list_offsets(live, "short", 0, -2, leader) == (0, 3)  # earliest
        assert list_offsets(live, "short", 0, -1, leader) == (0, 3)  # latest
        p = fetch(live, "short", 0, 0, leader)
        assert (p.error_code, p.log_start_offset) == (1, 3)  # OFFSET_OUT_OF_RANGE
        assert produce(live, "short", {0: build([(None, b"b", [])])}, port=port) == {0: (0, 3)}
        assert fetch(live, "short", 0, 3, leader).log_start_offset == 3
    finally:
        live.close()


def test_produce_carries_exactly_one_batch_per_partition_as_kafka_requires(live):
    """Empty records (no batch) failed the handler, which closed the connection; two batches
    were taken although Kafka refuses them (ProduceRequest.validateRecords: INVALID_RECORD)."""
    from tests.kafka.test_codec import build

    create_topic(live, "one-batch", 1)
    port = live.port + leaders(live, "one-batch")[0] - 1
    batch = build([(None, b"v", [])])
    for acks in (1, -1):
        assert produce(live, "one-batch", {0: b""}, acks=acks, port=port) == {0: (87, -1)}
        assert produce(live, "one-batch", {0: batch + batch}, acks=acks, port=port) \
            == {0: (87, -1)}
    assert produce(live, "one-batch", {0: batch}, port=port) == {0: (0, 0)}


def test_list_offsets_by_a_timestamp_just_before_the_rooms_start_finds_the_first_record(live):
    """A timestamp 1-3 ms before the room's wall-clock epoch became the sentinel -1, -2 or
    -3 (latest, earliest, max timestamp) once shifted to model time. The records are the
    model's (the page's produce): a client's records carry their own create times."""
    create_topic(live, "early", 1)
    [leader] = leaders(live, "early")
    for i in range(3):
        live.apply({"type": "produce", "topic": "early", "partition": 0, "value": f"v{i}",
                    "acks": "1"})
    assert list_offsets(live, "early", 0, -1, leader) == (0, 3)
    # Read once a client has connected: the room's clock stood still until then, and the
    # listener re-anchors its wall-clock epoch when the room runs in real time again.
    epoch = live.listener.epoch_ms
    for before in (1, 2, 3, 10_000):
        assert list_offsets(live, "early", 0, epoch - before, leader) == (0, 0)


def test_offset_for_leader_epoch_answers_where_each_epoch_ended(live):
    from kafka.protocol.consumer import OffsetForLeaderEpochRequest as Req

    from tests.kafka.test_codec import build

    live.apply({"type": "topic.create", "name": "epochs", "partitions": 1,
                "replication_factor": 3})
    first = leaders(live, "epochs")[0]
    for i in range(3):
        produce(live, "epochs", {0: build([(None, b"a%d" % i, [])])}, acks=-1,
                port=live.port + first - 1)
    live.apply({"type": "broker.stop", "broker": first})  # a clean stop: the leader moves
    second = leaders(live, "epochs")[0]
    assert second != first
    produce(live, "epochs", {0: build([(None, b"b", [])] * 2)}, acks=-1,
            port=live.port + second - 1)
    epoch = live.snapshot()["topics"]["epochs"]["partitions"][0]["leader_epoch"]

    def ask(leader_epoch: int, current: int = -1, broker: int = second):
        request = Req[4](replica_id=-1, topics=[Req.OffsetForLeaderTopic(
            topic="epochs", partitions=[Req.OffsetForLeaderTopic.OffsetForLeaderPartition(
                partition=0, current_leader_epoch=current, leader_epoch=leader_epoch)])])
        [t] = call(live, request, 4, broker).topics
        [p] = t.partitions
        return p.error_code, p.leader_epoch, p.end_offset

    assert ask(epoch - 1) == (0, epoch - 1, 3)  # the old leader's epoch ended at offset 3
    assert ask(epoch) == (0, epoch, 5)  # the current one: the log end
    assert ask(epoch, current=epoch) == (0, epoch, 5)
    assert ask(epoch, current=epoch - 1)[0] == 74  # FENCED_LEADER_EPOCH
    assert ask(epoch, current=epoch + 1)[0] == 75  # UNKNOWN_LEADER_EPOCH
    follower = next(b for b in (2, 3, 1) if b not in (first, second))
    assert ask(epoch, broker=follower)[0] == 6  # NOT_LEADER_OR_FOLLOWER
