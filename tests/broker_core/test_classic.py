"""Groups of real clients: Kafka's classic group protocol driven by JoinGroup, SyncGroup,
Heartbeat, LeaveGroup and OffsetCommit commands (broker_core/classic.py).

The expected answers follow Kafka's GroupCoordinator (handleJoinGroup, doSyncGroup,
handleHeartbeat, doCommitOffsets, onCompleteJoin) in apache/kafka.
"""

import pytest

from broker_core import CommandError
from broker_core.checkers import check_ownership, digest, replay
from broker_core.classic import NEW_MEMBER_JOIN_TIMEOUT_MS, GroupError
from broker_core.group import COMPLETING, EMPTY, PREPARING, STABLE
from broker_core.reads import committed_offsets, join_result, sync_result

from .helpers import Recorder, cluster_with_topic

SESSION_MS = 10_000
REBALANCE_MS = 30_000


def join_cmd(member_id="", client_id="py", protocols=(("range", "AAE="),), topics=("t",),
             v4=True, session_ms=SESSION_MS, rebalance_ms=REBALANCE_MS, protocol_type="consumer"):
    return {"type": "client.join_group", "group": "g", "member_id": member_id,
            "client_id": client_id, "client_host": "127.0.0.1:50000",
            "protocol_type": protocol_type,
            "protocols": [{"name": n, "metadata": m} for n, m in protocols],
            "topics": list(topics), "session_timeout_ms": session_ms,
            "rebalance_timeout_ms": rebalance_ms, "require_known_member_id": v4}


class Clients:
    """A cluster with topic `t` (4 partitions) and helpers that act as real clients would."""

    def __init__(self, partitions=4, seed=7):
        self.rec = Recorder(cluster_with_topic(name="t", partitions=partitions, seed=seed))
        self.cluster = self.rec.cluster

    def apply(self, command):
        return self.rec.apply(command)

    def new_member(self, client_id="py", **kw) -> str:
        """JoinGroup v4+: the MEMBER_ID_REQUIRED round trip, then the real join."""
        events = self.apply(join_cmd(client_id=client_id, **kw))
        pending = [e for e in events if e["type"] == "group.member_pending"]
        assert len(pending) == 1
        mid = pending[0]["consumer"]
        self.apply(join_cmd(mid, client_id=client_id, **kw))
        return mid

    def rejoin(self, mid, **kw):
        return self.apply(join_cmd(mid, **kw))

    def sync(self, mid, generation, assignments=None):
        command = {"type": "client.sync_group", "group": "g", "member_id": mid,
                   "generation": generation}
        if assignments is not None:
            command["assignments"] = [
                {"member_id": m, "assignment": "AQ==", "partitions": parts}
                for m, parts in assignments.items()]
        return self.apply(command)

    def heartbeat(self, mid, generation):
        return self.rec.request({"type": "client.heartbeat", "group": "g", "member_id": mid,
                                 "generation": generation})["error"]

    def state(self):
        return self.cluster.snapshot()["groups"]["g"]

    def of_type(self, kind):
        return self.rec.of_type(kind)

    def stable_pair(self):
        """Two members, generation 1, split [0, 1] / [2, 3]."""
        a = self.new_member("a")
        b = self.new_member("b")
        self.rec.advance(6_000)
        assert self.state()["state"] == COMPLETING
        self.sync(b, 1)
        self.sync(a, 1, {a: [["t", 0], ["t", 1]], b: [["t", 2], ["t", 3]]})
        assert self.state()["state"] == STABLE
        return a, b


def refused(clients, command, error):
    """The command is refused with Kafka's `error` and changes nothing."""
    cluster = clients.cluster
    before = (cluster.seq, len(cluster.command_log), cluster.snapshot())
    with pytest.raises(GroupError) as info:
        cluster.apply(command)
    assert info.value.error == error
    assert (cluster.seq, len(cluster.command_log), cluster.snapshot()) == before
    return info.value


# -- JoinGroup ------------------------------------------------------------------------------------

def test_join_v4_asks_for_a_member_id_first_and_the_pending_member_expires():
    c = Clients()
    events = c.apply(join_cmd(client_id="kafka-python-3"))
    assert [e["type"] for e in events] == ["group.created", "group.member_pending"]
    mid = events[1]["consumer"]
    assert mid.startswith("kafka-python-3-") and len(mid) == len("kafka-python-3-") + 36
    assert events[1]["expires_ms"] == SESSION_MS
    state = c.state()
    assert state["kind"] == "clients" and state["pending_members"] == [mid]
    assert state["members"] == {} and state["state"] == EMPTY
    # Never coming back: forgotten after its session timeout, and its id is no good after.
    events = c.rec.advance(SESSION_MS)
    assert [e["type"] for e in events] == ["group.member_pending_expired"]
    refused(c, join_cmd(mid), "UNKNOWN_MEMBER_ID")


def test_join_before_v4_gets_a_member_id_and_joins_at_once():
    c = Clients()
    events = c.apply(join_cmd(v4=False))
    joined = [e for e in events if e["type"] == "group.member_joined"]
    assert len(joined) == 1 and joined[0]["client"] == "py@127.0.0.1:50000"
    assert joined[0]["kind"] == "client" and joined[0]["topics"] == ["t"]
    assert c.state()["state"] == PREPARING
    assert join_result(c.cluster, "g", joined[0]["consumer"]) is None  # waits for the barrier


def test_member_ids_come_from_the_seed():
    def ids(seed):
        c = Clients(seed=seed)
        return [c.new_member(), c.new_member()]
    assert ids(3) == ids(3)
    assert ids(3) != ids(4)


def test_the_first_rebalance_waits_the_initial_delay_extended_by_newcomers():
    c = Clients()
    a = c.new_member("a")
    c.rec.advance(2_000)
    b = c.new_member("b")  # inside the 3 s delay: extends it by another 3 s
    c.rec.advance(3_999)
    assert c.state()["state"] == PREPARING and join_result(c.cluster, "g", a) is None
    c.rec.advance(1)
    done = c.of_type("group.join_completed")
    assert [(e["t_ms"], e["generation"], e["leader"], e["protocol_name"]) for e in done] == \
        [(6_000, 1, a, "range")]
    answer_a = join_result(c.cluster, "g", a)
    answer_b = join_result(c.cluster, "g", b)
    # The leader gets every member's metadata; a follower none.
    assert answer_a["leader"] == a and answer_a["generation"] == 1
    assert [m["member_id"] for m in answer_a["members"]] == [a, b]
    assert answer_a["members"][0]["metadata"] == "AAE="
    assert answer_b["members"] == [] and answer_b["leader"] == a
    assert c.state()["state"] == COMPLETING and c.state()["generation"] == 1


def test_the_protocol_most_members_prefer_among_those_all_support_wins():
    c = Clients()
    c.new_member("a", protocols=(("roundrobin", "AA=="), ("range", "AA==")))
    c.new_member("b", protocols=(("range", "AA=="), ("roundrobin", "AA=="), ("sticky", "")))
    c.new_member("c", protocols=(("range", "AA=="), ("roundrobin", "AA==")))
    c.rec.advance(10_000)
    assert c.of_type("group.join_completed")[0]["protocol_name"] == "range"
    assert c.state()["assignor"] == "range"


def test_inconsistent_protocols_are_refused():
    c = Clients()
    c.new_member("a", protocols=(("range", "AA=="),))
    refused(c, join_cmd(client_id="b", protocols=(("roundrobin", "AA=="),)),
            "INCONSISTENT_GROUP_PROTOCOL")
    refused(c, join_cmd(client_id="b", protocol_type="connect"), "INCONSISTENT_GROUP_PROTOCOL")
    # A first member must name a protocol at all.
    c2 = Clients()
    refused(c2, join_cmd(protocols=()), "INCONSISTENT_GROUP_PROTOCOL")


def test_a_session_timeout_outside_the_brokers_bounds_is_refused():
    c = Clients()
    error = refused(c, join_cmd(session_ms=5_999), "INVALID_SESSION_TIMEOUT")
    assert error.field == "session_timeout_ms"
    refused(c, join_cmd(session_ms=1_800_001), "INVALID_SESSION_TIMEOUT")


def test_an_unknown_member_id_is_refused():
    c = Clients()
    refused(c, join_cmd("nobody"), "UNKNOWN_MEMBER_ID")  # no group either
    c.new_member()
    refused(c, join_cmd("nobody"), "UNKNOWN_MEMBER_ID")


def test_a_bad_group_id_is_invalid_group_id():
    c = Clients()
    command = join_cmd()
    command["group"] = "no spaces please"
    refused(c, command, "INVALID_GROUP_ID")


def test_malformed_commands_name_the_field():
    c = Clients()
    for change, field in [({"protocols": [{"name": "range", "metadata": "not base64!"}]},
                           "protocols[0].metadata"),
                          ({"surprise": 1}, "surprise"),
                          ({"require_known_member_id": "yes"}, "require_known_member_id"),
                          ({"protocols": [{"name": "", "metadata": ""}]}, "protocols[0].name"),
                          ({"rebalance_timeout_ms": 0}, "rebalance_timeout_ms")]:
        with pytest.raises(CommandError) as info:
            c.cluster.apply({**join_cmd(), **change})
        assert info.value.field == field
    assert "g" not in c.cluster.groups


# -- SyncGroup and the assignment the page shows -------------------------------------------------

def test_followers_wait_for_the_leaders_assignment_which_the_group_shows():
    c = Clients()
    a = c.new_member("a")
    b = c.new_member("b")
    c.rec.advance(6_000)
    assert c.sync(b, 1) == [] and sync_result(c.cluster, "g", b) is None
    assert c.state()["consumers"][b]["waiting"] == "sync"
    events = c.sync(a, 1, {a: [["t", 0], ["t", 1]], b: [["t", 2], ["t", 3]]})
    types = [e["type"] for e in events]
    assert types == ["group.state_changed", "group.rebalance_completed", "partition.assigned",
                     "partition.assigned"]
    done = events[1]
    assert done["assignment"] == {a: [["t", 0], ["t", 1]], b: [["t", 2], ["t", 3]]}
    assert done["assignor"] == "range" and done["protocol"] == "eager" and done["generation"] == 1
    assert sync_result(c.cluster, "g", b) == {"error": "NONE", "assignment": "AQ=="}
    assert sync_result(c.cluster, "g", a) == {"error": "NONE", "assignment": "AQ=="}
    state = c.state()
    assert state["state"] == STABLE and state["leader"] == a
    assert state["members"] == {a: [["t", 0], ["t", 1]], b: [["t", 2], ["t", 3]]}
    assert state["consumers"][a]["client"] == "a@127.0.0.1:50000"
    assert [row["owner"] for row in state["lag"]] == [a, a, b, b]
    assert check_ownership(c.cluster.snapshot()) == []
    # A SyncGroup in a Stable group is answered with the current assignment at once.
    c.sync(b, 1)
    assert sync_result(c.cluster, "g", b)["assignment"] == "AQ=="


def test_sync_answers_follow_kafkas_checks():
    c = Clients()
    a = c.new_member("a")
    refused(c, {"type": "client.sync_group", "group": "g", "member_id": a, "generation": 0},
            "REBALANCE_IN_PROGRESS")
    c.rec.advance(3_000)
    refused(c, {"type": "client.sync_group", "group": "g", "member_id": a, "generation": 0},
            "ILLEGAL_GENERATION")
    refused(c, {"type": "client.sync_group", "group": "g", "member_id": "x", "generation": 1},
            "UNKNOWN_MEMBER_ID")
    refused(c, {"type": "client.sync_group", "group": "nope", "member_id": a, "generation": 1},
            "UNKNOWN_MEMBER_ID")


def test_an_assignment_of_unknown_or_doubled_partitions_keeps_one_owner_in_the_picture():
    c = Clients()
    a = c.new_member("a")
    b = c.new_member("b")
    c.rec.advance(6_000)
    events = c.sync(a, 1, {a: [["t", 0], ["t", 1], ["gone", 0]], b: [["t", 1], ["t", 9]]})
    done = [e for e in events if e["type"] == "group.rebalance_completed"][0]
    assert done["assignment"] == {a: [["t", 0], ["t", 1]], b: []}
    assert done["ignored"] == [[a, "gone", 0], [b, "t", 1], [b, "t", 9]]
    # Partitions left unassigned are the leader's choice; two owners never show.
    problems = check_ownership(c.cluster.snapshot())
    assert problems and all("owners []" in p for p in problems)


def test_a_member_that_never_syncs_is_removed_after_the_rebalance_timeout():
    c = Clients()
    a, b = c.stable_pair()
    c.rec.advance(1_000)
    c.heartbeat(a, 1)
    c.heartbeat(b, 1)
    c.rejoin(a)                                     # the leader rejoins: a rebalance
    c.rejoin(b)
    assert c.state()["state"] == COMPLETING and c.state()["generation"] == 2
    c.sync(a, 2, {a: [["t", 0], ["t", 1], ["t", 2], ["t", 3]]})   # b never syncs
    for _ in range(5):
        c.rec.advance(5_000)
        assert c.heartbeat(a, 2) == "NONE"
        c.heartbeat(b, 2)                             # alive, but it never syncs
    c.rec.advance(5_000)
    assert c.heartbeat(a, 2) == "REBALANCE_IN_PROGRESS"
    expired = c.of_type("group.member_expired")
    assert [(e["consumer"], e["t_ms"]) for e in expired] == [(b, 7_000 + REBALANCE_MS)]
    assert "SyncGroup" in expired[0]["reason"]


# -- Heartbeats, rebalances, sessions ------------------------------------------------------------

def test_heartbeats_tell_members_to_rejoin_and_the_barrier_falls_when_all_have():
    c = Clients()
    a, b = c.stable_pair()
    assert c.heartbeat(a, 1) == "NONE"
    c.rec.advance(1_000)
    newcomer = c.new_member("n")                     # a rebalance starts
    assert c.state()["state"] == PREPARING
    assert c.heartbeat(b, 1) == "REBALANCE_IN_PROGRESS"
    # An eager member gives everything up when it rejoins.
    events = c.rejoin(b)
    revoked = [e for e in events if e["type"] == "partition.revoked"]
    assert revoked[0]["consumer"] == b and revoked[0]["partitions"] == [["t", 2], ["t", 3]]
    assert c.state()["state"] == PREPARING           # a has not rejoined yet
    c.rec.advance(500)
    c.rejoin(a)                                       # everyone is in: no waiting for a timer
    assert c.state()["state"] == COMPLETING and c.state()["generation"] == 2
    assert [e["t_ms"] for e in c.of_type("group.join_completed")][-1] == 7_500
    assert join_result(c.cluster, "g", newcomer)["generation"] == 2
    assert join_result(c.cluster, "g", a)["leader"] == a


def test_heartbeat_errors():
    c = Clients()
    a, _ = c.stable_pair()
    refused(c, {"type": "client.heartbeat", "group": "g", "member_id": a, "generation": 0},
            "ILLEGAL_GENERATION")
    refused(c, {"type": "client.heartbeat", "group": "g", "member_id": "x", "generation": 1},
            "UNKNOWN_MEMBER_ID")
    refused(c, {"type": "client.heartbeat", "group": "h", "member_id": a, "generation": 1},
            "UNKNOWN_MEMBER_ID")


def test_a_member_that_stops_heartbeating_expires_after_its_session_and_the_rest_rebalance():
    c = Clients()
    a, b = c.stable_pair()                            # both heartbeated at 6 000 (their sync)
    for _ in range(3):
        c.rec.advance(3_000)
        c.heartbeat(a, 1)                             # b has gone silent
    c.rec.advance(999)
    assert c.of_type("group.member_expired") == []
    c.rec.advance(1)
    expired = c.of_type("group.member_expired")
    assert [(e["consumer"], e["t_ms"], e["reason"]) for e in expired] == \
        [(b, 6_000 + SESSION_MS, "session timed out")]
    revoked = [e for e in c.of_type("partition.revoked") if e["consumer"] == b]
    assert revoked[-1]["partitions"] == [["t", 2], ["t", 3]]
    assert c.state()["state"] == PREPARING
    c.rejoin(a)
    assert c.state()["state"] == COMPLETING and list(c.state()["members"]) == [a]


def test_a_member_that_does_not_rejoin_in_time_is_removed_and_a_new_leader_chosen():
    c = Clients()
    a, b = c.stable_pair()
    c.rec.advance(1_000)
    c.heartbeat(a, 1)
    c.rejoin(b)                                       # a follower with new metadata
    c.rejoin(b, protocols=(("range", "AAI="),))
    assert c.state()["state"] == PREPARING
    # The leader keeps heartbeating but never rejoins: at the rebalance timeout it goes.
    for _ in range(9):
        c.rec.advance(3_000)
        c.heartbeat(a, 1)
    c.rec.advance(REBALANCE_MS - 27_000)
    expired = c.of_type("group.member_expired")
    assert [(e["consumer"], e["t_ms"]) for e in expired] == [(a, 7_000 + REBALANCE_MS)]
    answer = join_result(c.cluster, "g", b)
    assert answer["leader"] == b and answer["generation"] == 2
    assert [m["metadata"] for m in answer["members"]] == ["AAI="]
    assert join_result(c.cluster, "g", a)["error"] == "UNKNOWN_MEMBER_ID"


def test_a_follower_rejoining_a_stable_group_unchanged_is_answered_without_a_rebalance():
    c = Clients()
    a, b = c.stable_pair()
    assert c.rejoin(b) == []
    answer = join_result(c.cluster, "g", b)
    assert answer["generation"] == 1 and answer["members"] == []
    assert c.state()["state"] == STABLE


def test_a_join_repeated_while_completing_gets_the_same_answer():
    c = Clients()
    a = c.new_member("a")
    c.rec.advance(3_000)
    first = join_result(c.cluster, "g", a)
    assert c.rejoin(a) == []
    assert join_result(c.cluster, "g", a) == first and c.state()["state"] == COMPLETING


def test_a_rebalance_during_completing_tells_waiting_members_to_rejoin():
    c = Clients()
    c.new_member("a")
    b = c.new_member("b")
    c.rec.advance(6_000)
    c.sync(b, 1)
    c.new_member("n")
    assert sync_result(c.cluster, "g", b) == {"error": "REBALANCE_IN_PROGRESS",
                                              "assignment": ""}
    assert c.state()["state"] == PREPARING


def test_new_members_give_up_waiting_for_their_first_answer_after_five_minutes():
    c = Clients()
    a, b = c.stable_pair()
    # a and b keep heartbeating but never rejoin; the newcomer's JoinGroup waits.
    newcomer = c.new_member("n", rebalance_ms=600_000)
    assert c.state()["consumers"][newcomer]["waiting"] == "join"
    for _ in range(NEW_MEMBER_JOIN_TIMEOUT_MS // 3_000):
        c.rec.advance(3_000)
        assert c.heartbeat(a, 1) == c.heartbeat(b, 1) == "REBALANCE_IN_PROGRESS"
    expired = c.of_type("group.member_expired")
    assert [(e["consumer"], e["t_ms"]) for e in expired] == \
        [(newcomer, 6_000 + NEW_MEMBER_JOIN_TIMEOUT_MS)]
    assert join_result(c.cluster, "g", newcomer)["error"] == "UNKNOWN_MEMBER_ID"


# -- LeaveGroup ----------------------------------------------------------------------------------

def test_a_member_that_leaves_gives_its_partitions_back_and_the_rest_rebalance():
    c = Clients()
    a, b = c.stable_pair()
    mark = len(c.rec.events)
    answer = c.rec.request({"type": "client.leave_group", "group": "g", "members": [b, "x"]})
    assert answer == {"errors": {b: "NONE", "x": "UNKNOWN_MEMBER_ID"}}
    events = c.rec.events[mark:]
    types = [e["type"] for e in events]
    assert types[:2] == ["partition.revoked", "group.member_left"]
    assert "group.rebalance_started" in types
    assert c.heartbeat(a, 1) == "REBALANCE_IN_PROGRESS"
    c.rejoin(a)
    c.sync(a, 2, {a: [["t", 0], ["t", 1], ["t", 2], ["t", 3]]})
    assert c.state()["members"] == {a: [["t", 0], ["t", 1], ["t", 2], ["t", 3]]}
    refused(c, {"type": "client.leave_group", "group": "g", "members": [b]},
            "UNKNOWN_MEMBER_ID")
    # The last member leaving empties the group: Empty, next generation.
    c.apply({"type": "client.leave_group", "group": "g", "members": [a]})
    state = c.state()
    assert state["state"] == EMPTY and state["generation"] == 3 and state["members"] == {}


def test_a_pending_member_may_leave():
    c = Clients()
    events = c.apply(join_cmd())
    mid = events[-1]["consumer"]
    events = c.apply({"type": "client.leave_group", "group": "g", "members": [mid]})
    assert [e["type"] for e in events] == ["group.member_pending_left"]
    assert c.state()["pending_members"] == []


# -- offsets -------------------------------------------------------------------------------------

def commit(member_id, generation, offsets, group="g"):
    return {"type": "client.commit_offsets", "group": group, "member_id": member_id,
            "generation": generation,
            "offsets": [{"topic": t, "partition": p, "offset": o, "metadata": "m"}
                        for t, p, o in offsets]}


def test_members_commit_into_the_groups_offsets_and_lag_shows_them():
    c = Clients()
    for i in range(5):
        c.apply({"type": "produce", "topic": "t", "partition": 0, "value": f"v{i}"})
    a, b = c.stable_pair()
    events = c.apply(commit(a, 1, [("t", 0, 3), ("nope", 0, 1), ("t", 7, 1)]))
    assert [(e["type"], e["consumer"], e["partition"], e["offset"]) for e in events] == \
        [("offset.committed", a, 0, 3)]
    lag = {row["partition"]: row for row in c.state()["lag"]}
    assert lag[0]["committed"] == 3 and lag[0]["lag"] == 2
    rows = committed_offsets(c.cluster, "g", [("t", 0), ("t", 1), ("nope", 0)])
    assert [(r["offset"], r["metadata"]) for r in rows] == [(3, "m"), (-1, ""), (-1, "")]
    assert [r["partition"] for r in committed_offsets(c.cluster, "g", None)] == [0]
    refused(c, commit(a, 0, [("t", 0, 4)]), "ILLEGAL_GENERATION")
    refused(c, commit("x", 1, [("t", 0, 4)]), "UNKNOWN_MEMBER_ID")
    refused(c, commit("", -1, [("t", 0, 4)]), "UNKNOWN_MEMBER_ID")  # not Empty
    c.new_member("n")
    c.rec.advance(1)
    c.rejoin(a)
    c.rejoin(b)
    assert c.state()["state"] == COMPLETING
    refused(c, commit(a, 2, [("t", 0, 4)]), "REBALANCE_IN_PROGRESS")


def test_a_consumer_outside_any_group_commits_with_generation_minus_one():
    c = Clients()
    refused(c, commit("", 3, [("t", 0, 1)]), "ILLEGAL_GENERATION")
    events = c.apply(commit("", -1, [("t", 1, 0)]))
    assert [e["type"] for e in events] == ["group.created", "offset.committed"]
    assert events[1]["consumer"] is None
    assert c.state()["state"] == EMPTY and c.state()["kind"] == "clients"
    assert committed_offsets(c.cluster, "g", [("t", 1)])[0]["offset"] == 0


# -- modelled consumers and real clients ---------------------------------------------------------

def test_a_real_client_cannot_join_a_group_of_modelled_consumers_nor_the_reverse():
    c = Clients()
    c.apply({"type": "consumer.add", "group": "g", "id": "m1", "topics": ["t"]})
    refused(c, join_cmd(), "INCONSISTENT_GROUP_PROTOCOL")
    refused(c, commit("", -1, [("t", 0, 1)]), "UNKNOWN_MEMBER_ID")
    c2 = Clients()
    a = c2.new_member()
    with pytest.raises(CommandError, match="real Kafka clients"):
        c2.apply({"type": "consumer.add", "group": "g", "id": "m1", "topics": ["t"]})
    with pytest.raises(CommandError, match="real Kafka client"):
        c2.apply({"type": "consumer.crash", "group": "g", "id": a})
    with pytest.raises(CommandError, match="real Kafka clients"):
        c2.apply({"type": "group.configure", "group": "g", "assignor": "sticky"})


def test_an_empty_group_changes_hands_keeping_its_offsets_and_generation():
    c = Clients()
    c.apply({"type": "produce", "topic": "t", "partition": 0, "value": "x"})
    c.apply({"type": "consumer.add", "group": "g", "id": "m1", "topics": ["t"]})
    c.rec.advance(5_000)
    c.apply({"type": "consumer.remove", "group": "g", "id": "m1"})
    assert c.state()["state"] == EMPTY
    generation = c.state()["generation"]
    a = c.new_member("a")
    assert [e["kind"] for e in c.of_type("group.taken_over")] == ["clients"]
    assert c.state()["kind"] == "clients"
    assert committed_offsets(c.cluster, "g", [("t", 0)])[0]["offset"] == 1
    c.rec.advance(3_000)
    assert join_result(c.cluster, "g", a)["generation"] == generation + 1
    c.apply({"type": "client.leave_group", "group": "g", "members": [a]})
    c.apply({"type": "consumer.add", "group": "g", "id": "m2", "topics": ["t"]})
    assert "kind" not in c.state()
    assert c.state()["lag"][0]["committed"] == 1


def test_deleting_a_topic_revokes_it_from_real_clients_too():
    c = Clients()
    a, b = c.stable_pair()
    events = c.apply({"type": "topic.delete", "name": "t"})
    revoked = [e for e in events if e["type"] == "partition.revoked"]
    assert {e["consumer"] for e in revoked} == {a, b}
    # The coordinator leaves rebalancing to the clients' leader, as Kafka's does.
    assert c.state()["state"] == STABLE and c.state()["members"] == {a: [], b: []}


def test_an_empty_client_group_can_be_deleted():
    c = Clients()
    c.apply(join_cmd())           # a pending member, whose timer must not outlive the group
    c.apply({"type": "group.delete", "group": "g"})
    assert "g" not in c.cluster.groups
    assert c.rec.advance(60_000) == []


# -- replay --------------------------------------------------------------------------------------

def test_a_room_of_real_clients_replays_from_its_command_log():
    c = Clients()
    a, b = c.stable_pair()
    c.apply(commit(a, 1, [("t", 0, 0)]))
    c.rec.advance(4_000)
    c.heartbeat(a, 1)
    c.apply({"type": "client.leave_group", "group": "g", "members": [b]})
    c.rec.advance(30_000)
    cluster = c.cluster
    again, events = replay(cluster.seed, 3, cluster.command_log, until_ms=cluster.now_ms)
    recorded = c.rec.events
    assert digest(events[-len(recorded):]) == digest(recorded)
    assert again.snapshot() == cluster.snapshot()


# -- seeded chaos ----------------------------------------------------------------------------------

def chaos(seed: int, steps: int = 80):
    """Clients doing what real ones do, in a random order: join (both ways), rejoin, sync (the
    leader with a range-like assignment of what it was told), heartbeat, commit, leave, and
    time passing. Returns the Clients and the GroupErrors seen."""
    import random

    rng = random.Random(f"classic-chaos/{seed}")
    c = Clients(seed=seed)
    known: list[str] = []
    refusals = []
    for _ in range(steps):
        state = c.cluster.groups.get("g")
        generation = state.generation if state is not None else 0
        action = rng.choice(["join", "rejoin", "sync", "sync", "sync", "sync", "beat", "beat",
                             "commit", "leave", "advance", "advance"])
        live = list(state.members) if state is not None else []
        if live and rng.random() < 0.8:
            # Mostly members that exist, the leader most often for a SyncGroup; else an id
            # that may have gone (a client that missed its removal).
            mid = state.leader if action == "sync" and rng.random() < 0.5 else rng.choice(live)
        else:
            mid = rng.choice(known) if known else ""
        try:
            if action == "join":
                if rng.random() < 0.5:
                    known.append(c.new_member(rng.choice(["a", "b", "c"])))
                else:
                    events = c.apply(join_cmd(v4=False))
                    known += [e["consumer"] for e in events if e["type"] == "group.member_joined"]
            elif action == "rejoin" and mid:
                c.rejoin(mid, protocols=(("range", rng.choice(["AAE=", "AAI="])),))
            elif action == "sync" and mid:
                answer = join_result(c.cluster, "g", mid)
                members = [m["member_id"] for m in (answer or {}).get("members", [])]
                plan = {m: [["t", p] for p in range(4) if p % len(members) == i]
                        for i, m in enumerate(members)}
                c.sync(mid, generation if rng.random() < 0.9 else generation - 1, plan)
            elif action == "beat" and mid:
                c.heartbeat(mid, rng.choice([generation, generation, generation - 1]))
            elif action == "commit" and mid:
                c.apply(commit(rng.choice([mid, ""]), rng.choice([generation, -1]),
                               [("t", rng.randrange(4), rng.randrange(10))]))
            elif action == "leave" and mid:
                c.apply({"type": "client.leave_group", "group": "g", "members": [mid]})
            elif action == "advance":
                c.rec.advance(rng.choice([1, 100, 3_000, 7_000, 31_000]))
        except GroupError as e:
            refusals.append(e.error)
        snapshot = c.cluster.snapshot()
        group = snapshot["groups"].get("g")
        if group is not None:
            owned = [tuple(tp) for parts in group["members"].values() for tp in parts]
            assert len(owned) == len(set(owned)), f"seed {seed}: a partition has two owners"
            assert group["state"] in (EMPTY, PREPARING, COMPLETING, STABLE), f"seed {seed}"
            assert (group["state"] == EMPTY) == (not group["members"]) or \
                group["state"] == PREPARING, f"seed {seed}: {group['state']} with members"
            if group["members"]:
                assert group["leader"] in group["members"], f"seed {seed}: leader gone"
    return c, refusals


def test_seeded_chaos_keeps_one_owner_per_partition_and_replays():
    seen = set()
    for seed in range(60):
        c, refusals = chaos(seed)
        seen.update(refusals)
        cluster = c.cluster
        again, events = replay(cluster.seed, 3, cluster.command_log, until_ms=cluster.now_ms)
        assert again.snapshot() == cluster.snapshot(), f"seed {seed} does not replay"
        assert digest(events[-len(c.rec.events):]) == digest(c.rec.events), f"seed {seed}"
    # The schedules reach Kafka's refusals, not just the happy path.
    assert {"ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "REBALANCE_IN_PROGRESS"} <= seen
