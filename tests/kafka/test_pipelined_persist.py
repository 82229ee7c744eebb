"""A client's pipelined produce requests on one connection share commits: each is applied in
order as soon as the one before waits only for the store, and answered, in order, once the
commit that holds it is written."""

import asyncio
import socket
import struct
import threading
import time

from tests.kafka.test_failures import read_frame
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
    its barrier keeps the connection muted (as Kafka does), so a commit sent behind it on the
    same connection reaches the room only after the join is answered."""
    gid = "muted"
    live.apply({"type": "topic.create", "name": TOPIC, "partitions": 1,
                "replication_factor": 1})
    raw = Raw(live, coordinator(live, gid))
    joining = raw.send(JoinGroupRequest, 3, group_id=gid, session_timeout_ms=6_000,
                       rebalance_timeout_ms=10_000, member_id="", protocol_type="consumer",
                       protocols=protocols())
    deadline = time.monotonic() + 5
    while gid not in live.snapshot()["groups"]:  # the join is at its barrier
        assert time.monotonic() < deadline, "the join never reached the room"
        time.sleep(0.01)
    commit = raw.send(OffsetCommitRequest, 2, group_id="elsewhere",
                      generation_id_or_member_epoch=-1, member_id="", retention_time_ms=-1,
                      topics=[{"name": TOPIC, "partitions": [
                          {"partition_index": 0, "committed_offset": 0,
                           "committed_metadata": ""}]}])
    time.sleep(0.3)
    commits = [e["command"] for e in live.call(lambda: list(live.room.cluster.command_log))
               if e["command"].get("group") == "elsewhere"]
    assert commits == [], "the commit was handled while the join before it still waited"
    assert raw.receive(joining).error_code == 0  # after the initial rebalance delay
    assert raw.receive(commit).topics[0].partitions[0].error_code == 0
    commits = [e["command"] for e in live.call(lambda: list(live.room.cluster.command_log))
               if e["command"].get("group") == "elsewhere"]
    assert len(commits) == 1  # it was handled, after the join
    raw.close()
