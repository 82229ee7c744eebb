"""KIP-345 static membership in groups of real clients: a member with a group.instance.id
that restarts takes its old place (and partitions) under a new member id without a rebalance;
the process it replaced is fenced; a static member leaves by instance id."""

from broker_core.group import COMPLETING, STABLE
from broker_core.reads import join_result

from .test_classic import Clients, join_cmd, refused


def static_join(member_id="", instance="i-a", client_id="py"):
    return {**join_cmd(member_id, client_id=client_id), "group_instance_id": instance}


def stable_static_pair(c: Clients) -> tuple[str, str]:
    """Static members a (instance i-a) and b (i-b), generation 1, [0, 1] / [2, 3]."""
    # A static newcomer joins at once: no MEMBER_ID_REQUIRED round trip (KIP-394 is for
    # dynamic members).
    a = c.rec.request(static_join(instance="i-a", client_id="a"))["member_id"]
    b = c.rec.request(static_join(instance="i-b", client_id="b"))["member_id"]
    assert not c.of_type("group.member_pending")
    c.rec.advance(6_000)
    assert c.state()["state"] == COMPLETING
    c.sync(b, 1)
    c.sync(a, 1, {a: [["t", 0], ["t", 1]], b: [["t", 2], ["t", 3]]})
    assert c.state()["state"] == STABLE
    return a, b


def test_a_restarted_static_member_gets_its_partitions_back_without_a_rebalance():
    c = Clients()
    a, b = stable_static_pair(c)
    mark = len(c.rec.events)
    answer = c.rec.request(static_join(instance="i-b", client_id="b"))
    b2 = answer["member_id"]
    assert b2 != b and answer == {"member_id": b2, "pending": False}
    events = c.rec.events[mark:]
    assert "group.rebalance_started" not in [e["type"] for e in events]
    # Answered at once with the current generation; SyncGroup hands back b's assignment.
    joined = join_result(c.cluster, "g", b2)
    assert (joined["error"], joined["generation"], joined["leader"]) == ("NONE", 1, a)
    c.sync(b2, 1)
    state = c.state()
    assert state["state"] == STABLE and state["generation"] == 1
    assert state["members"] == {a: [["t", 0], ["t", 1]], b2: [["t", 2], ["t", 3]]}
    assert c.heartbeat(a, 1) == "NONE"  # the other member never noticed


def test_the_replaced_process_is_fenced():
    c = Clients()
    a, b = stable_static_pair(c)
    c.rec.request(static_join(instance="i-b", client_id="b"))
    refused(c, {"type": "client.heartbeat", "group": "g", "member_id": b, "generation": 1,
                "group_instance_id": "i-b"}, "FENCED_INSTANCE_ID")
    refused(c, static_join(b, instance="i-b"), "FENCED_INSTANCE_ID")
    refused(c, {"type": "client.commit_offsets", "group": "g", "member_id": b,
                "generation": 1, "group_instance_id": "i-b",
                "offsets": [{"topic": "t", "partition": 2, "offset": 1}]},
            "FENCED_INSTANCE_ID")


def test_a_static_leader_that_restarts_stays_leader_and_skips_the_assignment():
    """JoinGroup v9+: it is told it leads, with every member, and to skip assigning."""
    c = Clients()
    a, b = stable_static_pair(c)
    a2 = c.rec.request({**static_join(instance="i-a", client_id="a"),
                        "skip_assignment_ok": True})["member_id"]
    joined = join_result(c.cluster, "g", a2)
    assert joined["leader"] == a2 and joined["skip_assignment"]
    assert sorted(m["member_id"] for m in joined["members"]) == sorted([a2, b])
    assert {m["instance_id"] for m in joined["members"]} == {"i-a", "i-b"}


def test_an_older_static_leader_that_restarts_is_answered_as_a_follower():
    """Before JoinGroup v9 Kafka names the old leader id, so the client does not reassign
    (a Stable group would ignore it) and syncs for its old assignment."""
    c = Clients()
    a, b = stable_static_pair(c)
    a2 = c.rec.request(static_join(instance="i-a", client_id="a"))["member_id"]
    joined = join_result(c.cluster, "g", a2)
    assert joined["leader"] == a and joined["members"] == []
    assert not joined.get("skip_assignment")
    c.sync(a2, 1)
    assert c.state()["members"] == {a2: [["t", 0], ["t", 1]], b: [["t", 2], ["t", 3]]}
    assert c.heartbeat(b, 1) == "NONE"


def test_a_static_member_leaves_by_instance_id():
    c = Clients()
    a, b = stable_static_pair(c)
    answer = c.rec.request({"type": "client.leave_group", "group": "g", "members": ["", ""],
                            "instances": ["i-b", "nobody"]})
    assert answer == {"errors": {"i-b": "NONE", "nobody": "UNKNOWN_MEMBER_ID"}}
    assert list(c.state()["members"]) == [a]
    assert c.heartbeat(a, 1) == "REBALANCE_IN_PROGRESS"


def test_a_static_member_that_stops_heartbeating_is_removed_at_its_session_timeout():
    c = Clients()
    a, b = stable_static_pair(c)
    for _ in range(4):
        c.rec.advance(4_000)
        assert c.heartbeat(a, 1) in ("NONE", "REBALANCE_IN_PROGRESS")
    assert b not in c.state()["members"]
    assert c.cluster.groups["g"].static == {"i-a": a}
