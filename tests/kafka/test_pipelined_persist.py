"""A client's pipelined produce requests on one connection share commits: each is applied in
order as soon as the one before waits only for the store, and answered, in order, once the
commit that holds it is written."""

import asyncio
import socket
import struct
import threading
import time

from tests.kafka.conftest import Live
from tests.kafka.test_failures import closed, read_frame
from tests.kafka.test_groups import TOPIC
from tests.kafka.test_groups_wire import (
    JoinGroupRequest,
    OffsetCommitRequest,
    Raw,
    coordinator,
    protocols,
)
from tests.kafka.test_protocol import produce_request_for


def test_pipelined_produce_requests_share_commits_and_are_answered_in_order(live):
    live.apply({"type": "topic.create", "name": "piped", "partitions": 1,
                "replication_factor": 1})
    live.run(live.rooms.persist(live.room.id))
    store = live.rooms.persister.store
    gate = threading.Event()
    saves = []
    save_many = store.save_many

    async def held_until_the_gate_opens(batch):
        saves.append(sum(len(entries) for _, entries in batch))
        while not gate.is_set():  # the listener's loop must not block on the test's thread
            await asyncio.sleep(0.01)
        return await save_many(batch)
    store.save_many = held_until_the_gate_opens
    requests = [produce_request_for("piped", correlation_id=20 + i) for i in range(5)]
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
        sock.sendall(b"".join(requests))  # all at once, as a producer with 5 in flight
        # All five are applied while the first commit is held: each waits only for the store.
        deadline = time.monotonic() + 5
        while live.call(lambda: len(live.room.cluster.command_log)) < 6:
            assert time.monotonic() < deadline, "the requests after the first were not applied"
            time.sleep(0.01)
        sock.settimeout(0.3)
        try:
            sock.recv(1)
            raise AssertionError("a request was answered before its commit")
        except TimeoutError:
            pass
        sock.settimeout(5)
        gate.set()
        ids = [struct.unpack_from(">i", read_frame(sock))[0] for _ in requests]
    assert ids == [20, 21, 22, 23, 24]
    assert saves == [1, 4]  # the first alone, the four applied meanwhile in one commit


def test_a_request_still_waiting_for_its_group_holds_back_the_connections_next_one(live):
    """Only a Produce waiting for the store alone lets the next request in: a JoinGroup at
    its barrier keeps the connection muted (as Kafka does), so a commit sent right behind it
    on the same connection reaches the room only once the join's barrier has fallen, the
    group's initial rebalance delay later."""
    gid = "muted"
    live.apply({"type": "topic.create", "name": TOPIC, "partitions": 1,
                "replication_factor": 1})
    raw = Raw(live, coordinator(live, gid))
    joining = raw.send(JoinGroupRequest, 3, group_id=gid, session_timeout_ms=6_000,
                       rebalance_timeout_ms=10_000, member_id="", protocol_type="consumer",
                       protocols=protocols())
    commit = raw.send(OffsetCommitRequest, 2, group_id="elsewhere",
                      generation_id_or_member_epoch=-1, member_id="", retention_time_ms=-1,
                      topics=[{"name": TOPIC, "partitions": [
                          {"partition_index": 0, "committed_offset": 0,
                           "committed_metadata": ""}]}])
    assert raw.receive(joining).error_code == 0  # after the initial rebalance delay
    assert raw.receive(commit).topics[0].partitions[0].error_code == 0
    log = live.call(lambda: list(live.room.cluster.command_log))
    joined = next(e["at_ms"] for e in log if e["command"].get("group") == gid)
    committed = [e["at_ms"] for e in log if e["command"].get("group") == "elsewhere"]
    delay = live.call(lambda: live.room.cluster.config["group.initial.rebalance.delay.ms"])
    assert len(committed) == 1 and committed[0] >= joined + delay, (joined, committed, delay)
    raw.close()


def test_a_connection_idle_after_its_produce_was_answered_is_closed():
    """The idle clock stops while a request is in progress, a Produce waiting for the store
    included, and starts again once its answer is out."""
    server = Live(idle_s=1)
    try:
        server.apply({"type": "topic.create", "name": "t", "partitions": 1,
                      "replication_factor": 1})
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(produce_request_for("t", correlation_id=3))
            assert struct.unpack_from(">i", read_frame(sock))[0] == 3
            assert closed(sock, timeout=4), "still open 4 s after its answer (idle_s=1)"
    finally:
        server.close()


def test_nothing_after_a_failed_request_is_applied_while_a_produce_waits_for_the_store(live):
    """A request that fails behind a Produce waiting for its commit ends the connection as it
    always did: the Produce before it is answered, nothing sent after it is applied."""
    live.apply({"type": "topic.create", "name": "piped", "partitions": 1,
                "replication_factor": 1})
    live.run(live.rooms.persist(live.room.id))
    store = live.rooms.persister.store
    gate = threading.Event()
    save_many = store.save_many

    async def held_until_the_gate_opens(batch):
        while not gate.is_set():
            await asyncio.sleep(0.01)
        return await save_many(batch)
    store.save_many = held_until_the_gate_opens
    unknown = struct.pack(">hhih", 999, 0, 2, 1) + b"x"  # API key 999: the handler fails
    before = live.call(lambda: len(live.room.cluster.command_log))
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
        sock.sendall(produce_request_for("piped", correlation_id=1)
                     + struct.pack(">i", len(unknown)) + unknown
                     + produce_request_for("piped", correlation_id=3))
        deadline = time.monotonic() + 5
        while live.call(lambda: len(live.room.cluster.command_log)) == before:
            assert time.monotonic() < deadline, "the first Produce never reached the room"
            time.sleep(0.01)
        gate.set()
        assert struct.unpack_from(">i", read_frame(sock))[0] == 1  # the one before, answered
        assert closed(sock, timeout=5)
    assert live.call(lambda: len(live.room.cluster.command_log)) == before + 1
