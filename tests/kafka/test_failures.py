"""Brokers stopping under real clients, min.insync.replicas, and ports following the model."""

import socket
import struct
import time

import pytest

from tests.kafka.conftest import Live, rf3_spec


@pytest.fixture
def safe_live():
    server = Live(rf3_spec(min_isr=2))
    yield server
    server.close()


def api_versions_request(version: int = 0, correlation_id: int = 1) -> bytes:
    body = struct.pack(">hhih", 18, version, correlation_id, 4) + b"test"
    return struct.pack(">i", len(body)) + body


def read_exactly(sock, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def read_frame(sock) -> bytes:
    size = struct.unpack(">i", read_exactly(sock, 4))[0]
    return read_exactly(sock, size)


def closed(sock, timeout: float = 3) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def connect(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_a_stopped_brokers_port_closes_with_its_connections_and_reopens(live):
    port2 = live.port + 1
    sock = socket.create_connection(("127.0.0.1", port2), timeout=2)
    sock.sendall(api_versions_request())
    read_frame(sock)  # served: the connection is the broker's now
    live.apply({"type": "broker.stop", "broker": 2})
    assert closed(sock)  # the broker's connections close with it
    sock.close()
    assert not connect(port2)
    assert connect(live.port) and connect(live.port + 2)  # the others go on
    live.apply({"type": "broker.start", "broker": 2})
    deadline = time.monotonic() + 5
    while not connect(port2) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert connect(port2)


@pytest.mark.parametrize("idempotent", [False, True])
def test_stopping_the_leader_mid_stream_with_acks_all_loses_nothing(safe_live, idempotent):
    from confluent_kafka import Consumer, Producer, TopicPartition

    live = safe_live
    leader = live.snapshot()["topics"]["safe"]["partitions"][0]["leader"]
    producer = Producer({"bootstrap.servers": live.bootstrap, "acks": "all", "linger.ms": 5,
                         "enable.idempotence": idempotent,
                         "retries": 1_000, "retry.backoff.ms": 50,
                         "message.timeout.ms": 30_000, "topic.metadata.refresh.interval.ms": 1000})
    acked, failed = [], []

    def report(err, msg):
        (failed if err else acked).append(msg.value())

    n = 2_000
    for i in range(n):
        producer.produce("safe", value=f"v{i}".encode(), on_delivery=report)
        if i == n // 2:
            producer.poll(0)
            live.apply({"type": "broker.stop", "broker": leader})  # clean: controlled shutdown
        if i % 100 == 0:
            producer.poll(0.01)
    assert producer.flush(40) == 0
    assert not failed
    assert len(acked) == n
    after = live.snapshot()["topics"]["safe"]["partitions"][0]
    assert after["leader"] != leader

    assert after["high_watermark"] >= n
    consumer = Consumer({"bootstrap.servers": live.bootstrap_all, "group.id": "unused-safe",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition("safe", 0, 0)])
    seen = []
    deadline = time.monotonic() + 20
    while len(seen) < after["high_watermark"] and time.monotonic() < deadline:
        for m in consumer.consume(500, 0.5):
            assert m.error() is None
            seen.append(m.value())
    consumer.close()
    # Every acknowledged record is there; without idempotence a retry may have written one
    # twice, with it each is there exactly once and in the order sent.
    assert set(acked) <= set(seen)
    if idempotent:
        assert seen == [f"v{i}".encode() for i in range(n)]


def test_with_min_insync_replicas_unmet_the_client_sees_not_enough_replicas(live):
    from kafka import KafkaProducer
    from kafka.errors import NotEnoughReplicasError

    live.apply({"type": "topic.create", "name": "strict", "partitions": 1,
                "replication_factor": 2, "config": {"min.insync.replicas": 2}})
    part = live.snapshot()["topics"]["strict"]["partitions"][0]
    follower = next(b for b in part["replicas"] if b != part["leader"])
    live.apply({"type": "broker.stop", "broker": follower})  # clean: leaves the ISR at once
    assert live.snapshot()["topics"]["strict"]["partitions"][0]["isr"] == [part["leader"]]
    producer = KafkaProducer(bootstrap_servers=live.bootstrap, acks="all", retries=0,
                             request_timeout_ms=5_000)
    future = producer.send("strict", b"value")
    with pytest.raises(NotEnoughReplicasError):
        future.get(10)
    # acks=1 needs no in-sync followers.
    producer.close(2)
    producer = KafkaProducer(bootstrap_servers=live.bootstrap, acks=1, retries=0)
    assert producer.send("strict", b"value").get(10).offset == 0
    producer.close(2)
    failed = [e for e in live.room.cluster.command_log
              if e["command"]["type"] == "produce.records"]
    assert len(failed) == 2  # both attempts are in the recording; the page saw the failure


def test_real_clients_make_the_room_run_at_1x_and_refuse_speed_changes(live):
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=live.bootstrap)
    producer.send("rt", b"x").get(10)
    room = live.room
    assert live.call(room.clock_state)["realtime"] is True
    reply = live.run(room.handle({"type": "control", "request_id": "r", "action": "speed",
                                  "speed": 10}, {}))
    assert "runs at 1×" in reply["text"]
    producer.close(2)
    deadline = time.monotonic() + 5
    while live.call(room.clock_state)["realtime"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live.call(room.clock_state)["realtime"] is False
