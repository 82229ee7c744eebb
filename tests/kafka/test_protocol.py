"""The wire protocol at the byte level: ApiVersions (KIP-511), topics created and deleted by
real admin clients, configs, offsets, and hostile input (a fuzz test)."""

import random
import socket
import struct
import time

from kafka.protocol.metadata import ApiVersionsRequest, ApiVersionsResponse, MetadataRequest
from kafka.protocol.producer import ProduceRequest
from kafka.record.default_records import DefaultRecordBatchBuilder

from tests.kafka.test_failures import api_versions_request, closed, read_frame


def request_bytes(request, version: int, correlation_id: int = 7) -> bytes:
    request.with_header(correlation_id=correlation_id, client_id="fuzz")
    return bytes(request.encode(version=version, header=True, framed=True))


def ask(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        return read_frame(sock)


def test_api_versions_answers_an_unsupported_version_in_v0_as_kip_511_says(live):
    frame = ask(live.port, api_versions_request(version=9, correlation_id=42))
    correlation_id, error, count = struct.unpack_from(">ihi", frame)
    assert (correlation_id, error, count) == (42, 35, 1)  # UNSUPPORTED_VERSION
    assert struct.unpack_from(">hhh", frame, 10) == (18, 0, 5)  # Kafka 4.4's range
    # In a version we have, the full list, Produce and Fetch included.

    frame = ask(live.port, request_bytes(ApiVersionsRequest[3](client_software_name="t",
                                                               client_software_version="1"), 3))
    response = ApiVersionsResponse.decode(frame[4:], version=3)
    keys = {k.api_key: (k.min_version, k.max_version) for k in response.api_keys}
    # Kafka 4.4's ranges: Produce advertised from v0 though served from v3 (KAFKA-18659)
    assert keys[0] == (0, 13) and keys[1] == (4, 18) and keys[3] == (0, 13)


def test_metadata_auto_creates_as_kafka_does_and_admin_clients_create_and_delete(live):
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

    admin = AdminClient({"bootstrap.servers": live.bootstrap})
    # An unknown topic named in Metadata (allow_auto_topic_creation) is created with
    # num.partitions 1 and default.replication.factor 1; Kafka 4 answers the request that
    # creates it UNKNOWN_TOPIC_OR_PARTITION, and the next one finds it.
    from kafka.protocol.metadata import MetadataResponse

    frame = ask(live.port, request_bytes(MetadataRequest[9](
        topics=[MetadataRequest.MetadataRequestTopic(name="auto-made")],
        allow_auto_topic_creation=True, include_cluster_authorized_operations=False,
        include_topic_authorized_operations=False), 9))
    [first] = MetadataResponse.decode(frame[5:], version=9).topics
    assert (first.name, first.error_code) == ("auto-made", 3)  # UNKNOWN_TOPIC_OR_PARTITION
    md = admin.list_topics("auto-made", timeout=10)
    assert "auto-made" in md.topics and len(md.topics["auto-made"].partitions) == 1
    created = live.room.cluster.command_log[-1]["command"]
    assert created["type"] == "topic.create" and created["auto"] is True
    assert created["client"].startswith("fuzz@127.0.0.1:")  # request_bytes' client id

    futures = admin.create_topics([NewTopic("made", 4, 2, config={"retention.ms": "60000"})])
    futures["made"].result(10)
    topic = live.snapshot()["topics"]["made"]
    assert len(topic["partitions"]) == 4 and topic["replication_factor"] == 2
    assert topic["config"]["retention.ms"] == 60_000
    again = admin.create_topics([NewTopic("made", 1, 1)])
    try:
        again["made"].result(10)
        raise AssertionError("created twice")
    except Exception as e:
        assert "TOPIC_ALREADY_EXISTS" in str(e)
    bad = admin.create_topics([NewTopic("too-many", 1, 9)])
    try:
        bad["too-many"].result(10)
        raise AssertionError("rf 9 on 3 brokers")
    except Exception as e:
        assert "INVALID_REPLICATION_FACTOR" in str(e)

    configs = admin.describe_configs([ConfigResource("topic", "made")])
    entries = next(iter(configs.values())).result(10)
    assert entries["retention.ms"].value == "60000"
    assert entries["min.insync.replicas"].value == "1"

    admin.delete_topics(["made"])["made"].result(10)
    assert "made" not in live.snapshot()["topics"]


def test_list_offsets_earliest_latest_and_by_timestamp(live):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    producer = KafkaProducer(bootstrap_servers=live.bootstrap, acks=1)
    for i in range(5):
        producer.send("times", f"v{i}".encode()).get(10)
    time.sleep(0.05)
    middle_ms = int(time.time() * 1000)
    time.sleep(0.05)
    for i in range(5, 8):
        producer.send("times", f"v{i}".encode()).get(10)
    producer.close(2)
    consumer = KafkaConsumer(bootstrap_servers=live.bootstrap)
    tp = TopicPartition("times", 0)
    assert consumer.beginning_offsets([tp])[tp] == 0
    assert consumer.end_offsets([tp])[tp] == 8
    found = consumer.offsets_for_times({tp: middle_ms})[tp]
    assert found.offset == 5 and found.timestamp >= middle_ms - 5
    assert consumer.offsets_for_times({tp: middle_ms + 3_600_000})[tp] is None
    consumer.close()


def produce_request_for(topic: str, correlation_id: int = 7) -> bytes:
    builder = DefaultRecordBatchBuilder(2, 0, False, -1, -1, -1, 10**6)
    for i in range(3):
        builder.append(i, 1000 + i, b"k", b"value-%d" % i, [])
    records = bytes(builder.build())
    request = ProduceRequest[7](transactional_id=None, acks=1, timeout_ms=1000, topic_data=[
        ProduceRequest.TopicProduceData(name=topic, partition_data=[
            ProduceRequest.TopicProduceData.PartitionProduceData(index=0, records=records)])])
    return request_bytes(request, 7, correlation_id)


def produce_request() -> bytes:
    return produce_request_for("fuzzed")


def test_fuzz_random_and_mutated_frames_close_only_their_connection(live):
    from kafka import KafkaProducer

    live.apply({"type": "topic.create", "name": "fuzzed", "partitions": 1,
                "replication_factor": 1})
    # A well-behaved connection that stays open through all of it.
    steady = socket.create_connection(("127.0.0.1", live.port), timeout=5)
    steady.sendall(api_versions_request())
    read_frame(steady)

    rng = random.Random(6)
    valid = [api_versions_request(), produce_request(),
             request_bytes(MetadataRequest[9](topics=None, allow_auto_topic_creation=False), 9),
             request_bytes(MetadataRequest[1](topics=[MetadataRequest.MetadataRequestTopic(
                 name="fuzzed")]), 1)]
    answered = dropped = 0
    for i in range(300):
        kind = i % 4
        if kind == 0:  # random bytes, random length prefix
            body = rng.randbytes(rng.randrange(0, 64))
            data = struct.pack(">i", rng.choice([len(body), rng.randrange(-5, 1 << 31)])) + body
        elif kind == 1:  # a valid request with a few bytes flipped (size prefix kept)
            data = bytearray(rng.choice(valid))
            for _ in range(rng.randrange(1, 4)):
                pos = rng.randrange(4, len(data))
                data[pos] = rng.randrange(256)
            data = bytes(data)
        elif kind == 2:  # a valid request cut short
            whole = rng.choice(valid)
            data = whole[:rng.randrange(1, len(whole))]
        else:  # an unknown API key or a version nobody has
            data = struct.pack(">ihhih", 10, rng.choice([99, 1000, -1, 0]),
                               rng.choice([77, 32_000]), 1, 0)
        with socket.create_connection(("127.0.0.1", rng.choice([live.port, live.port + 1])),
                                      timeout=5) as sock:
            sock.sendall(data)
            if kind == 2:
                sock.shutdown(socket.SHUT_WR)  # truncated: the listener sees EOF mid-frame
            sock.settimeout(1.5)
            try:
                assert len(read_frame(sock)) >= 4  # a response header at least
                answered += 1
            except (ConnectionError, TimeoutError, OSError):
                dropped += 1
    assert answered and dropped

    # The other connection, the listener and the room all go on.
    steady.sendall(api_versions_request(correlation_id=99))
    assert struct.unpack_from(">i", read_frame(steady))[0] == 99
    steady.close()
    producer = KafkaProducer(bootstrap_servers=live.bootstrap, acks="all")
    assert producer.send("after-fuzz", b"still here").get(10).offset == 0
    producer.close(2)


def test_oversized_frames_close_the_connection_before_reading_them(live):
    from playground.kafka.codec import MAX_FRAME_BYTES

    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
        sock.sendall(struct.pack(">i", MAX_FRAME_BYTES + 1) + b"\x00" * 100)
        assert closed(sock)


def test_pipelined_requests_are_answered_in_order_on_one_connection(live):
    requests = [api_versions_request(correlation_id=11),
                request_bytes(MetadataRequest[9](topics=None, allow_auto_topic_creation=False),
                              9, correlation_id=12),
                produce_request_for("pipelined", correlation_id=13),
                api_versions_request(correlation_id=14)]
    live.apply({"type": "topic.create", "name": "pipelined", "partitions": 1,
                "replication_factor": 1})
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
        sock.sendall(b"".join(requests))  # all at once: the client does not wait
        ids = [struct.unpack_from(">i", read_frame(sock))[0] for _ in requests]
    assert ids == [11, 12, 13, 14]


def test_acks_0_gets_no_response_and_the_records_still_land(live):
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=live.bootstrap, acks=0)
    for i in range(20):
        producer.send("fire-and-forget", str(i).encode())
    producer.flush(10)
    producer.close(5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        hw = live.snapshot()["topics"].get("fire-and-forget", {"partitions": [
            {"high_watermark": 0}]})["partitions"][0]["high_watermark"]
        if hw == 20:
            break
        time.sleep(0.05)
    assert hw == 20


def test_find_coordinator_names_a_live_broker_chosen_from_the_group_id(live):
    from kafka.protocol.metadata import FindCoordinatorRequest, FindCoordinatorResponse

    def ask_coordinator(group: str):
        frame = ask(live.port, request_bytes(FindCoordinatorRequest[2](key=group, key_type=0), 2))
        r = FindCoordinatorResponse.decode(frame[4:], version=2)
        return r.error_code, r.node_id, r.port

    # Java: "orders".hashCode() = -1008770331, abs % 50 = 31; with 3 brokers, broker 1 + 31 % 3.
    assert ask_coordinator("orders") == (0, 2, live.port + 1)
    live.apply({"type": "broker.stop", "broker": 2})
    assert ask_coordinator("orders") == (0, 3, live.port + 2)  # the next running broker
    assert live.call(live.listener.coordinator, "orders") == 3
