"""The group APIs request by request, over a raw socket: versions the three client libraries
do not use (JoinGroup before v4, OffsetFetch v1, LeaveGroup v0), Kafka's error codes, and the
waits (a follower's SyncGroup answered when the leader's arrives)."""

import socket
import time

import pytest

from playground.kafka.codec import REQUESTS, RESPONSES
from playground.kafka.codec import _build as build
from playground.kafka.codec_groups import (
    assignment_partitions,
    encode_assignment,
    encode_subscription,
)

from .conftest import Live
from .test_groups import PARTITIONS, TOPIC, spec

# kafka-python's generated request classes, by API key
OffsetCommitRequest, OffsetFetchRequest = REQUESTS[8], REQUESTS[9]
JoinGroupRequest, HeartbeatRequest, LeaveGroupRequest, SyncGroupRequest = (
    REQUESTS[11], REQUESTS[12], REQUESTS[13], REQUESTS[14])


@pytest.fixture
def live():
    server = Live(spec=spec())
    yield server
    server.close()


class Raw:
    """One connection to one simulated broker; requests encoded by kafka-python's classes."""

    def __init__(self, live, broker: int):
        self.sock = socket.create_connection(live.listener.address(broker), timeout=10)
        self.correlation_id = 0

    def send(self, cls, version: int, **fields):
        self.correlation_id += 1
        request = build(cls, version, fields)  # nested dicts to kafka-python's objects
        request.with_header(self.correlation_id, "raw")
        self.sock.sendall(request.encode(version=version, header=True, framed=True))
        return cls, version

    def receive(self, sent):
        cls, version = sent
        size = int.from_bytes(self._exactly(4), "big")
        return RESPONSES[cls.API_KEY].decode(self._exactly(size), version=version, header=True)

    def call(self, cls, version: int, **fields):
        return self.receive(self.send(cls, version, **fields))

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("the listener closed the connection")
            data += chunk
        return data

    def close(self):
        self.sock.close()


def coordinator(live, gid: str) -> int:
    return live.call(live.listener.coordinator, gid)


def protocols(topics=(TOPIC,)):
    return [{"name": "range", "metadata": encode_subscription(list(topics))}]


def join(raw, version, gid, member_id="", **extra):
    fields = {"group_id": gid, "session_timeout_ms": 6_000, "member_id": member_id,
              "protocol_type": "consumer", "protocols": protocols(), **extra}
    if version >= 1:
        fields.setdefault("rebalance_timeout_ms", 10_000)
    return raw.call(JoinGroupRequest, version, **fields)


def test_join_sync_heartbeat_commit_fetch_leave_with_old_versions(live):
    gid = "raw-old"
    raw = Raw(live, coordinator(live, gid))
    joined = join(raw, 0, gid)            # v0-v3: no MEMBER_ID_REQUIRED round trip
    assert joined.error_code == 0 and joined.generation_id == 1
    me = joined.member_id
    assert me.startswith("raw-") and joined.leader == me
    assert [m.member_id for m in joined.members] == [me]
    assert joined.members[0].metadata == encode_subscription([TOPIC])
    mine = encode_assignment([(TOPIC, p) for p in range(PARTITIONS)])
    synced = raw.call(SyncGroupRequest, 0, group_id=gid, generation_id=1, member_id=me,
                      assignments=[{"member_id": me, "assignment": mine}])
    assert synced.error_code == 0 and bytes(synced.assignment) == mine
    state = live.snapshot()["groups"][gid]
    assert state["state"] == "Stable"
    assert state["members"] == {me: [[TOPIC, p] for p in range(PARTITIONS)]}
    assert state["consumers"][me]["client"].startswith("raw@127.0.0.1:")

    def beat(generation, member=me):
        return raw.call(HeartbeatRequest, 0, group_id=gid, generation_id=generation,
                        member_id=member).error_code
    assert (beat(1), beat(0), beat(1, "nobody")) == (0, 22, 25)

    committed = raw.call(OffsetCommitRequest, 2, group_id=gid, generation_id_or_member_epoch=1,
                         member_id=me, retention_time_ms=-1, topics=[
                             {"name": TOPIC, "partitions": [
                                 {"partition_index": 1, "committed_offset": 0,
                                  "committed_metadata": "hello"}]},
                             {"name": "missing", "partitions": [
                                 {"partition_index": 0, "committed_offset": 5,
                                  "committed_metadata": ""}]}])
    assert [[p.error_code for p in t.partitions] for t in committed.topics] == [[0], [3]]
    fetched = raw.call(OffsetFetchRequest, 1, group_id=gid, topics=[
        {"name": TOPIC, "partition_indexes": [0, 1]}])
    rows = [(p.partition_index, p.committed_offset, p.metadata, p.error_code)
            for t in fetched.topics for p in t.partitions]
    assert rows == [(0, -1, "", 0), (1, 0, "hello", 0)]
    everything = raw.call(OffsetFetchRequest, 2, group_id=gid, topics=None)
    assert [(t.name, [p.partition_index for p in t.partitions]) for t in everything.topics] == \
        [(TOPIC, [1])]
    here = coordinator(live, gid)
    unknown = next(f"never-heard-of-{i}" for i in range(100)
                   if coordinator(live, f"never-heard-of-{i}") == here)
    elsewhere = next(f"elsewhere-{i}" for i in range(100)
                     if coordinator(live, f"elsewhere-{i}") != here)
    by_group = raw.call(OffsetFetchRequest, 8, groups=[
        {"group_id": g, "topics": None} for g in (gid, unknown, elsewhere)])
    assert [(g.group_id, g.error_code, len(g.topics)) for g in by_group.groups] == \
        [(gid, 0, 1), (unknown, 0, 0), (elsewhere, 16, 0)]

    left = raw.call(LeaveGroupRequest, 0, group_id=gid, member_id=me)
    assert left.error_code == 0
    assert raw.call(LeaveGroupRequest, 0, group_id=gid, member_id=me).error_code == 25
    assert live.snapshot()["groups"][gid]["state"] == "Empty"
    raw.close()


def test_join_v4_asks_for_a_member_id_and_a_follower_waits_for_the_leaders_assignment(live):
    gid = "raw-v4"
    b = coordinator(live, gid)
    leader, follower = Raw(live, b), Raw(live, b)
    first = join(leader, 5, gid)
    assert first.error_code == 79 and first.member_id.startswith("raw-")
    assert live.snapshot()["groups"][gid]["pending_members"] == [first.member_id]
    second = join(follower, 5, gid)
    assert second.error_code == 79 and second.member_id != first.member_id
    # Both come back with their ids; the barrier falls after the initial delay.
    pending = leader.send(JoinGroupRequest, 5, group_id=gid, session_timeout_ms=6_000,
                          rebalance_timeout_ms=10_000, member_id=first.member_id,
                          protocol_type="consumer", protocols=protocols())
    # The first to join leads: the follower comes back only once the leader's join is in.
    deadline = time.monotonic() + 5
    while first.member_id in live.snapshot()["groups"][gid]["pending_members"]:
        assert time.monotonic() < deadline, "the leader's second join never reached the room"
        time.sleep(0.005)
    follow = join(follower, 5, gid, second.member_id)
    lead = leader.receive(pending)
    assert (lead.error_code, follow.error_code) == (0, 0)
    assert lead.leader == first.member_id == follow.leader
    assert len(lead.members) == 2 and follow.members == []
    # The follower's SyncGroup waits until the leader's brings the assignment.
    waiting = follower.send(SyncGroupRequest, 3, group_id=gid, generation_id=1,
                            member_id=second.member_id, assignments=[])
    half = [(TOPIC, 0), (TOPIC, 1)]
    other = [(TOPIC, 2), (TOPIC, 3)]
    synced = leader.call(SyncGroupRequest, 3, group_id=gid, generation_id=1,
                         member_id=first.member_id, assignments=[
                             {"member_id": first.member_id, "assignment": encode_assignment(half)},
                             {"member_id": second.member_id,
                              "assignment": encode_assignment(other)}])
    answered = follower.receive(waiting)
    assert synced.error_code == answered.error_code == 0
    assert assignment_partitions(bytes(answered.assignment)) == [list(tp) for tp in other]
    members = live.snapshot()["groups"][gid]["members"]
    assert members == {first.member_id: [list(tp) for tp in half],
                       second.member_id: [list(tp) for tp in other]}
    # LeaveGroup v3+ answers member by member.
    left = leader.call(LeaveGroupRequest, 3, group_id=gid, members=[
        {"member_id": second.member_id}, {"member_id": "nobody"}])
    assert left.error_code == 0 and [m.error_code for m in left.members] == [0, 25]
    assert leader.call(HeartbeatRequest, 3, group_id=gid, generation_id=1,
                       member_id=first.member_id).error_code == 27   # rejoin, please
    leader.close()
    follower.close()


def test_kafkas_refusals_reach_the_client(live):
    gid = "raw-refused"
    b = coordinator(live, gid)
    other = next(x for x in (1, 2, 3) if x != b)
    elsewhere = Raw(live, other)
    assert join(elsewhere, 5, gid).error_code == 16                       # NOT_COORDINATOR
    fetched = elsewhere.call(OffsetFetchRequest, 1, group_id=gid, topics=[
        {"name": TOPIC, "partition_indexes": [0]}])
    assert fetched.topics[0].partitions[0].error_code == 16
    raw = Raw(live, b)
    assert join(raw, 5, gid, session_timeout_ms=1_000).error_code == 26   # INVALID_SESSION_TIMEOUT
    assert join(raw, 5, gid, "made-up").error_code == 25                  # UNKNOWN_MEMBER_ID
    bad = join(raw, 5, "no spaces allowed")
    assert bad.error_code in (16, 24)   # INVALID_GROUP_ID where this broker coordinates it
    # A group of modelled consumers is not for real clients.
    modelled = "modelled"
    live.apply({"type": "consumer.add", "group": modelled, "id": "m1", "topics": [TOPIC]})
    assert join(Raw(live, coordinator(live, modelled)), 3, modelled).error_code == 23
    assert raw.call(SyncGroupRequest, 0, group_id=gid, generation_id=1, member_id="x",
                    assignments=[]).error_code == 25
    raw.close()
    elsewhere.close()


@pytest.mark.parametrize("version", [0, 3])
def test_a_commit_from_outside_any_group_is_kept(live, version):
    gid = f"simple-{version}"
    raw = Raw(live, coordinator(live, gid))
    committed = raw.call(OffsetCommitRequest, 2, group_id=gid, generation_id_or_member_epoch=-1,
                         member_id="", retention_time_ms=-1, topics=[
                             {"name": TOPIC, "partitions": [
                                 {"partition_index": 2, "committed_offset": 7,
                                  "committed_metadata": None}]}])
    assert committed.topics[0].partitions[0].error_code == 0
    state = live.snapshot()["groups"][gid]
    assert state["state"] == "Empty" and state["kind"] == "clients"
    assert [r["committed"] for r in state["lag"] if r["partition"] == 2] == [7]
    # A member of a real generation cannot pretend to be outside it.
    joined = join(raw, version, gid)
    assert joined.error_code == 0
    refused = raw.call(OffsetCommitRequest, 2, group_id=gid, generation_id_or_member_epoch=-1,
                       member_id="", retention_time_ms=-1, topics=[
                           {"name": TOPIC, "partitions": [
                               {"partition_index": 2, "committed_offset": 8,
                                "committed_metadata": ""}]}])
    assert refused.topics[0].partitions[0].error_code == 25
    raw.close()


def test_a_full_recording_answers_coordinator_not_available(live):
    gid = "raw-full"
    raw = Raw(live, coordinator(live, gid))
    joined = join(raw, 3, gid)
    assert joined.error_code == 0
    live.call(setattr, live.room, "log_bytes_max", live.room.log_bytes)
    before = live.snapshot()["groups"][gid]
    beat = raw.call(HeartbeatRequest, 0, group_id=gid, generation_id=1, member_id=joined.member_id)
    assert beat.error_code == 15   # retriable: the client looks for its coordinator again
    assert live.snapshot()["groups"][gid] == before
    assert live.call(lambda: live.listener.log_full_noticed)
    raw.close()
