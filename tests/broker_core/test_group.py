"""The classic group coordinator: its state table, rebalances, crashes and commits."""

import pytest

from broker_core import Cluster, CommandError
from broker_core.checkers import check_ownership
from broker_core.group import COMPLETING, DEAD, EMPTY, PREPARING, STABLE, TRANSITIONS, Group

from .helpers import Recorder, cluster_with_topic


def group_state(cluster, gid="g"):
    return cluster.snapshot()["groups"][gid]


def stable_group(members=2, partitions=4, assignor="range", processing_ms=0, commit="after"):
    rec = Recorder(cluster_with_topic(name="t", partitions=partitions))
    rec.apply({"type": "group.configure", "group": "g", "assignor": assignor})
    for i in range(1, members + 1):
        rec.apply({"type": "consumer.add", "group": "g", "id": f"c{i}", "topics": ["t"],
                   "processing_ms": processing_ms, "commit": commit})
    rec.advance(10_000)
    assert group_state(rec.cluster)["state"] == STABLE
    return rec


def test_the_state_table_is_kafkas_classic_group_state():
    # ClassicGroupState.java: the valid previous states of each state, inverted.
    assert TRANSITIONS == {
        EMPTY: (PREPARING, DEAD),
        PREPARING: (COMPLETING, EMPTY, DEAD),
        COMPLETING: (PREPARING, STABLE, DEAD),
        STABLE: (PREPARING, DEAD),
        DEAD: (),
    }


def test_an_illegal_transition_raises_at_once():
    group = Group(Cluster(seed=1, brokers=1), "g", {"assignor": "range"})
    with pytest.raises(AssertionError, match="Empty -> Stable"):
        group.transition(STABLE)


def test_first_members_wait_for_the_initial_rebalance_delay():
    rec = Recorder(cluster_with_topic(name="t", partitions=4))
    rec.apply({"type": "consumer.add", "group": "g", "id": "c1", "topics": ["t"]})
    assert group_state(rec.cluster)["state"] == PREPARING
    rec.advance(1_000)
    rec.apply({"type": "consumer.add", "group": "g", "id": "c2", "topics": ["t"]})
    rec.advance(1_999)
    assert group_state(rec.cluster)["state"] == PREPARING
    # A newcomer during the 3 s delay extends it by another 3 s (InitialDelayedJoin).
    rec.advance(3_000)
    assert group_state(rec.cluster)["state"] == PREPARING
    rec.advance(1)
    done = rec.of_type("group.rebalance_completed")
    assert [e["t_ms"] for e in done] == [6_000]
    assert done[0]["assignment"] == {"c1": [["t", 0], ["t", 1]], "c2": [["t", 2], ["t", 3]]}
    assert done[0]["leader"] == "c1" and done[0]["generation"] == 1


def test_a_join_makes_an_eager_group_revoke_everything_at_each_heartbeat():
    rec = stable_group(members=2)
    rec.advance(500)  # now 10_500; c1 and c2 joined at 0, so they heartbeat at 12_000
    rec.apply({"type": "consumer.add", "group": "g", "id": "c3", "topics": ["t"]})
    started = rec.of_type("group.rebalance_started")[-1]
    assert started["t_ms"] == 10_500 and "c3" in started["reason"]
    rec.advance(5_000)
    revoked = [e for e in rec.of_type("partition.revoked") if e["t_ms"] > 10_000]
    assert [(e["consumer"], e["t_ms"]) for e in revoked] == [("c1", 12_000), ("c2", 12_000)]
    assert revoked[0]["partitions"] == [["t", 0], ["t", 1]]
    done = rec.of_type("group.rebalance_completed")[-1]
    assert done["t_ms"] == 12_000 and done["generation"] == 2
    assert done["assignment"] == {"c1": [["t", 0], ["t", 1]], "c2": [["t", 2]], "c3": [["t", 3]]}
    assert check_ownership(rec.cluster.snapshot(), require_live=True) == []


def test_a_crash_is_noticed_only_when_the_session_times_out():
    rec = stable_group(members=2)
    rec.advance(1_000)  # now 11_000; last heartbeat of c1 was at 9_000
    rec.apply({"type": "consumer.crash", "group": "g", "id": "c1"})
    crashed = rec.of_type("consumer.crashed")[0]
    assert crashed["session_expires_ms"] == 9_000 + 45_000
    # Meanwhile its partitions sit still and their lag grows.
    for i in range(20):
        rec.apply({"type": "produce", "topic": "t", "value": "v", "key": f"k{i}"})
    rec.advance(40_000)
    snap = group_state(rec.cluster)
    assert snap["state"] == STABLE and snap["members"]["c1"] == [["t", 0], ["t", 1]]
    stuck = [r for r in snap["lag"] if r["owner"] == "c1"]
    assert sum(r["lag"] for r in stuck) > 0
    rec.advance(3_000)  # now 54_000
    expired = rec.of_type("group.member_expired")
    assert [(e["consumer"], e["t_ms"]) for e in expired] == [("c1", 54_000)]
    rec.advance(10_000)
    snap = group_state(rec.cluster)
    assert snap["state"] == STABLE and list(snap["members"]) == ["c2"]
    assert snap["members"]["c2"] == [["t", 0], ["t", 1], ["t", 2], ["t", 3]]
    assert all(r["lag"] == 0 for r in snap["lag"])


def test_a_polite_leave_rebalances_at_once():
    rec = stable_group(members=2)
    rec.apply({"type": "consumer.remove", "group": "g", "id": "c2"})
    assert rec.of_type("group.member_left")[0]["t_ms"] == 10_000
    assert rec.of_type("group.rebalance_started")[-1]["t_ms"] == 10_000
    rec.advance(3_000)
    assert group_state(rec.cluster)["members"] == {"c1": [["t", 0], ["t", 1], ["t", 2],
                                                          ["t", 3]]}


def test_the_last_member_leaving_empties_the_group():
    rec = stable_group(members=1)
    rec.apply({"type": "consumer.remove", "group": "g", "id": "c1"})
    changes = [(e["from"], e["to"]) for e in rec.of_type("group.state_changed")][-2:]
    assert changes == [(STABLE, PREPARING), (PREPARING, EMPTY)]


def test_cooperative_sticky_moves_only_what_must_move_over_two_rounds():
    rec = stable_group(members=2, partitions=6, assignor="cooperative-sticky")
    before = group_state(rec.cluster)["members"]
    mark = len(rec.events)
    rec.apply({"type": "consumer.add", "group": "g", "id": "c3", "topics": ["t"]})
    rec.advance(10_000)
    after = group_state(rec.cluster)["members"]
    revoked = [p for e in rec.events[mark:] if e["type"] == "partition.revoked"
               for p in e["partitions"]]
    # Exactly the two partitions c3 takes are revoked; nothing else ever stops.
    assert len(revoked) == 2
    assert sorted(map(tuple, after["c3"])) == sorted(map(tuple, revoked))
    for c in ("c1", "c2"):
        assert set(map(tuple, after[c])) <= set(map(tuple, before[c]))
    rounds = [e for e in rec.events[mark:] if e["type"] == "group.rebalance_completed"]
    assert len(rounds) == 2
    assert rounds[0]["assignment"]["c3"] == []  # first round withholds what moves
    assert check_ownership(rec.cluster.snapshot(), require_live=True) == []


def test_after_commits_each_record_and_redelivers_what_a_crash_interrupted():
    rec = stable_group(members=1, partitions=1, processing_ms=100)
    for i in range(3):
        rec.apply({"type": "produce", "topic": "t", "value": f"v{i}"})
    rec.advance(150)  # offset 0 done and committed, offset 1 in flight
    assert [e["offset"] for e in rec.of_type("offset.committed")] == [1]
    rec.apply({"type": "consumer.crash", "group": "g", "id": "c1"})
    assert rec.of_type("consumer.crashed")[0]["in_flight"] == {"topic": "t", "partition": 0,
                                                              "offset": 1, "attempt": 1,
                                                              "phase": "processing"}
    rec.apply({"type": "consumer.add", "group": "g", "id": "c2", "topics": ["t"],
               "processing_ms": 100})
    rec.advance(60_000)
    delivered = [(e["consumer"], e["offset"]) for e in rec.of_type("record.delivered")]
    assert delivered == [("c1", 0), ("c1", 1), ("c2", 1), ("c2", 2)]
    processed = [e["offset"] for e in rec.of_type("record.processed")]
    assert processed == [0, 1, 2]  # at-least-once: nothing lost


def test_before_commits_first_so_a_crash_loses_the_record_for_the_group():
    rec = stable_group(members=1, partitions=1, processing_ms=100, commit="before")
    for i in range(3):
        rec.apply({"type": "produce", "topic": "t", "value": f"v{i}"})
    rec.advance(150)
    rec.apply({"type": "consumer.crash", "group": "g", "id": "c1"})
    rec.apply({"type": "consumer.add", "group": "g", "id": "c2", "topics": ["t"],
               "processing_ms": 100, "commit": "before"})
    rec.advance(60_000)
    assert [e["offset"] for e in rec.of_type("record.processed")] == [0, 2]  # at-most-once


def test_auto_commit_every_five_seconds_reprocesses_after_a_crash():
    rec = stable_group(members=1, partitions=1, processing_ms=1_000, commit="auto")
    for i in range(10):
        rec.apply({"type": "produce", "topic": "t", "value": f"v{i}"})
    # Records take 1 s each from 10_000: 0..6 are done by 17_000. The auto-commit at 15_000
    # was scheduled before offset 4's finish at that same instant, so it commits 0..3.
    rec.advance(7_500)
    commits = rec.of_type("offset.committed")
    assert [(e["t_ms"], e["offset"]) for e in commits] == [(15_000, 4)]
    rec.apply({"type": "consumer.crash", "group": "g", "id": "c1"})
    rec.apply({"type": "consumer.add", "group": "g", "id": "c2", "topics": ["t"],
               "processing_ms": 1_000, "commit": "auto"})
    rec.advance(120_000)
    processed = [e["offset"] for e in rec.of_type("record.processed")]
    assert processed == [0, 1, 2, 3, 4, 5, 6, 4, 5, 6, 7, 8, 9]


def test_a_revoked_partition_cannot_commit_and_its_next_owner_repeats_the_record():
    rec = Recorder(cluster_with_topic(name="t", partitions=2))
    rec.apply({"type": "consumer.add", "group": "g", "id": "z1", "topics": ["t"],
               "processing_ms": 5_000})
    rec.advance(10_000)
    rec.apply({"type": "produce", "topic": "t", "value": "slow", "partition": 0})
    rec.advance(100)  # z1 is processing offset 0 of t/0 until 15_000
    rec.apply({"type": "consumer.add", "group": "g", "id": "c2", "topics": ["t"],
               "processing_ms": 10})
    rec.advance(20_000)  # range gives t/0 to c2 (sorted first) at z1's heartbeat, 12_000
    failed = rec.of_type("offset.commit_failed")
    assert [(e["consumer"], e["partition"], e["offset"]) for e in failed] == [("z1", 0, 1)]
    deliveries = [(e["consumer"], e["partition"], e["offset"])
                  for e in rec.of_type("record.delivered")]
    assert deliveries == [("z1", 0, 0), ("c2", 0, 0)]  # at-least-once, visibly twice


def test_a_member_given_back_its_partition_commits_the_record_in_hand():
    rec = Recorder(cluster_with_topic(name="t", partitions=2))
    rec.apply({"type": "consumer.add", "group": "g", "id": "a", "topics": ["t"],
               "processing_ms": 5_000})
    rec.advance(10_000)
    rec.apply({"type": "produce", "topic": "t", "value": "slow", "partition": 0})
    rec.apply({"type": "produce", "topic": "t", "value": "next", "partition": 0})
    rec.advance(100)
    rec.apply({"type": "consumer.add", "group": "g", "id": "b", "topics": ["t"]})
    rec.advance(20_000)  # eager: a revokes everything at 12_000 and gets t/0 straight back
    assert rec.of_type("offset.commit_failed") == []
    deliveries = [(e["consumer"], e["partition"], e["offset"])
                  for e in rec.of_type("record.delivered")]
    assert deliveries == [("a", 0, 0), ("a", 0, 1)]
    assert [e["offset"] for e in rec.of_type("offset.committed")] == [1, 2]


def test_a_polite_leave_abandons_the_record_in_hand_and_the_partition_moves_at_once():
    rec = stable_group(members=2, partitions=2, processing_ms=60_000)
    rec.apply({"type": "produce", "topic": "t", "value": "slow", "partition": 0})
    events = rec.apply({"type": "consumer.remove", "group": "g", "id": "c1"})
    left = [e for e in events if e["type"] == "group.member_left"][0]
    assert left["in_flight"] == {"topic": "t", "partition": 0, "offset": 0, "attempt": 1,
                                 "phase": "processing"}
    rec.advance(5_000)
    snap = group_state(rec.cluster)
    assert list(snap["members"]) == ["c2"]
    assert [(e["consumer"], e["offset"]) for e in rec.of_type("record.delivered")] == [
        ("c1", 0), ("c2", 0)]


def test_lag_counts_from_where_the_group_will_start_before_any_commit():
    cluster = cluster_with_topic(name="t", partitions=1)
    for i in range(4):
        cluster.apply({"type": "produce", "topic": "t", "value": str(i)})
    cluster.apply({"type": "group.configure", "group": "g"})
    cluster.apply({"type": "consumer.add", "group": "g", "id": "c1", "topics": ["t"]})
    row = group_state(cluster)["lag"][0]
    assert row == {"topic": "t", "partition": 0, "committed": None, "high_watermark": 4,
                   "lag": 4, "owner": None}
    cluster.advance(5_000)
    row = group_state(cluster)["lag"][0]
    assert (row["committed"], row["lag"]) == (4, 0)


def test_latest_starts_at_the_end_and_skips_older_records():
    cluster = cluster_with_topic(name="t", partitions=1)
    cluster.apply({"type": "produce", "topic": "t", "value": "old"})
    cluster.apply({"type": "group.configure", "group": "g", "auto_offset_reset": "latest"})
    cluster.apply({"type": "consumer.add", "group": "g", "id": "c1", "topics": ["t"]})
    assert group_state(cluster)["lag"][0]["lag"] == 0
    events = cluster.advance(5_000)
    events += cluster.apply({"type": "produce", "topic": "t", "value": "new"})
    assert [e["offset"] for e in events if e["type"] == "record.processed"] == [1]


def test_offsets_reset_only_while_the_group_is_inactive():
    rec = stable_group(members=1, partitions=2)
    for i in range(6):
        rec.apply({"type": "produce", "topic": "t", "value": str(i), "partition": i % 2})
    rec.advance(100)
    with pytest.raises(CommandError) as info:
        rec.cluster.apply({"type": "group.reset_offsets", "group": "g", "topic": "t",
                           "to": "earliest"})
    assert info.value.field == "group" and "inactive" in info.value.message
    rec.apply({"type": "consumer.remove", "group": "g", "id": "c1"})
    rec.apply({"type": "group.reset_offsets", "group": "g", "topic": "t", "to": 1})
    assert [r["committed"] for r in group_state(rec.cluster)["lag"]] == [1, 1]
    rec.apply({"type": "group.reset_offsets", "group": "g", "topic": "t", "to": 99})
    assert [r["committed"] for r in group_state(rec.cluster)["lag"]] == [3, 3]  # clamped
    rec.apply({"type": "group.reset_offsets", "group": "g", "topic": "t", "to": "earliest"})
    rec.apply({"type": "consumer.add", "group": "g", "id": "c2", "topics": ["t"]})
    mark = len(rec.events)
    rec.advance(10_000)
    assert len([e for e in rec.events[mark:] if e["type"] == "record.processed"]) == 6


def test_group_configure_validates_and_keeps_the_delivery_policy():
    cluster = cluster_with_topic(name="t")
    cluster.apply({"type": "group.configure", "group": "g", "assignor": "sticky",
                   "session_timeout_ms": 10_000, "max_attempts": 5, "retry_backoff_ms": 200,
                   "processing_timeout_ms": 60_000, "dead_letter_topic": "t-dlt"})
    config = group_state(cluster)["config"]
    assert (config["assignor"], config["session_timeout_ms"], config["max_attempts"],
            config["dead_letter_topic"]) == ("sticky", 10_000, 5, "t-dlt")
    for command, field in (
        ({"assignor": "fair"}, "assignor"),
        ({"session_timeout_ms": 1_000}, "session_timeout_ms"),  # below 6 s, Kafka refuses
        ({"heartbeat_interval_ms": 20_000}, "heartbeat_interval_ms"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"dead_letter_topic": "bad name"}, "dead_letter_topic"),
        ({"colour": "red"}, "colour"),
    ):
        with pytest.raises(CommandError) as info:
            cluster.apply({"type": "group.configure", "group": "g", **command})
        assert info.value.field == field


def test_member_commands_are_validated():
    rec = stable_group(members=1)
    for command, field in (
        ({"type": "consumer.add", "group": "g", "id": "c1", "topics": ["t"]}, "id"),
        ({"type": "consumer.add", "group": "g", "topics": []}, "topics"),
        ({"type": "consumer.add", "group": "g", "topics": ["t"], "commit": "never"}, "commit"),
        ({"type": "consumer.add", "group": "g", "topics": ["t"], "failure_rate": 1.5},
         "failure_rate"),
        ({"type": "consumer.add", "group": "bad group", "topics": ["t"]}, "group"),
        ({"type": "consumer.remove", "group": "g", "id": "nobody"}, "id"),
        ({"type": "consumer.crash", "group": "nogroup", "id": "c1"}, "group"),
        ({"type": "group.delete", "group": "g"}, "group"),
    ):
        with pytest.raises(CommandError) as info:
            rec.cluster.apply(command)
        assert info.value.field == field, command
    rec.apply({"type": "consumer.crash", "group": "g", "id": "c1"})
    with pytest.raises(CommandError, match="crashed"):
        rec.cluster.apply({"type": "consumer.remove", "group": "g", "id": "c1"})


def test_an_empty_group_can_be_deleted():
    rec = stable_group(members=1)
    rec.apply({"type": "consumer.remove", "group": "g", "id": "c1"})
    rec.advance(1)
    events = rec.apply({"type": "group.delete", "group": "g"})
    assert [e["to"] for e in events if e["type"] == "group.state_changed"] == [DEAD]
    assert "g" not in rec.cluster.snapshot()["groups"]


def test_consumer_ids_are_generated_when_omitted():
    cluster = cluster_with_topic(name="t")
    cluster.apply({"type": "consumer.add", "group": "inventory", "topics": ["t"]})
    cluster.apply({"type": "consumer.add", "group": "inventory", "topics": ["t"]})
    assert list(group_state(cluster, "inventory")["members"]) == ["inventory-1", "inventory-2"]


def test_a_new_subscribed_topic_or_more_partitions_trigger_a_rebalance():
    rec = stable_group(members=2, partitions=2)
    rec.apply({"type": "topic.add_partitions", "name": "t", "partitions": 4})
    assert "partitions added" in rec.of_type("group.rebalance_started")[-1]["reason"]
    rec.advance(5_000)
    owned = sorted(p for ps in group_state(rec.cluster)["members"].values() for p in ps)
    assert owned == [["t", 0], ["t", 1], ["t", 2], ["t", 3]]


def test_switching_to_an_eager_assignor_mid_rebalance_never_gives_a_partition_two_owners():
    rec = Recorder(cluster_with_topic(name="t", partitions=4, brokers=1))
    rec.apply({"type": "group.configure", "group": "g", "assignor": "cooperative-sticky"})
    rec.apply({"type": "consumer.add", "group": "g", "id": "m1", "topics": ["t"]})
    rec.advance(1_000)
    rec.apply({"type": "consumer.add", "group": "g", "id": "m2", "topics": ["t"]})
    rec.advance(10_000)
    rec.apply({"type": "consumer.add", "group": "g", "id": "a", "topics": ["t"]})
    rec.advance(1_000)  # m1 rejoined cooperatively, keeping its partitions
    rec.apply({"type": "group.configure", "group": "g", "assignor": "roundrobin"})
    rec.advance(10_000)  # the Recorder's checker raises if any partition had two owners
    assert check_ownership(rec.cluster.snapshot(), require_live=True) == []
    assert group_state(rec.cluster)["protocol"] == "eager"


def test_lag_never_counts_a_record_twice_after_an_eager_rebalance():
    cluster = cluster_with_topic(name="t", partitions=2, brokers=1)
    cluster.apply({"type": "consumer.add", "group": "g", "id": "a", "topics": ["t"],
                   "processing_ms": 10_000})
    cluster.advance(5_000)
    cluster.apply({"type": "produce", "topic": "t", "value": "v", "partition": 0})
    cluster.apply({"type": "consumer.add", "group": "g", "id": "b", "topics": ["t"]})
    cluster.advance(4_000)
    rows = {r["partition"]: r for r in group_state(cluster)["lag"]}
    assert rows[0]["high_watermark"] == 1 and rows[0]["lag"] == 1


def test_a_committed_offset_deleted_by_retention_is_reset_out_loud():
    rec = Recorder(cluster_with_topic(name="t", partitions=1, brokers=1,
                                      config={"retention.ms": 1_000}))
    rec.apply({"type": "consumer.add", "group": "g", "id": "a", "topics": ["t"]})
    rec.advance(5_000)
    rec.apply({"type": "produce", "topic": "t", "value": "0"})
    rec.apply({"type": "consumer.remove", "group": "g", "id": "a"})  # committed 1
    rec.apply({"type": "produce", "topic": "t", "value": "1"})
    rec.advance(600_000)  # retention deletes offsets 0 and 1
    rec.apply({"type": "produce", "topic": "t", "value": "2"})
    rec.apply({"type": "consumer.add", "group": "g", "id": "b", "topics": ["t"]})
    rec.advance(5_000)
    reset = rec.of_type("offset.reset")
    assert [(e["consumer"], e["previous"], e["offset"]) for e in reset] == [("b", 1, 2)]
    assert [e["offset"] for e in rec.of_type("record.processed")] == [0, 2]


def test_a_deleted_group_recreated_starts_afresh():
    rec = Recorder(cluster_with_topic(name="t", partitions=1, brokers=1))
    rec.apply({"type": "group.configure", "group": "g"})
    rec.apply({"type": "group.reset_offsets", "group": "g", "topic": "t", "to": "earliest"})
    rec.apply({"type": "group.delete", "group": "g"})
    rec.apply({"type": "group.configure", "group": "g", "auto_offset_reset": "latest"})
    rec.apply({"type": "produce", "topic": "t", "value": "before"})
    rec.apply({"type": "consumer.add", "group": "g", "id": "a", "topics": ["t"]})
    rec.advance(5_000)
    rec.apply({"type": "produce", "topic": "t", "value": "after"})
    assert [e["offset"] for e in rec.of_type("record.processed")] == [1]


def test_a_rebalance_during_a_crash_waits_for_the_session_to_expire():
    rec = stable_group(members=2, partitions=4)
    rec.apply({"type": "consumer.crash", "group": "g", "id": "c1"})  # last heartbeat 9_000
    rec.apply({"type": "consumer.add", "group": "g", "id": "c3", "topics": ["t"]})
    rec.advance(20_000)
    assert group_state(rec.cluster)["state"] == PREPARING  # c1 cannot rejoin, nor is it gone
    rec.advance(24_000)  # 54_000: the session expires and the rebalance completes without it
    done = rec.of_type("group.rebalance_completed")[-1]
    assert done["t_ms"] == 54_000 and sorted(done["assignment"]) == ["c2", "c3"]
    assert check_ownership(rec.cluster.snapshot(), require_live=True) == []


def test_auto_commit_flushes_before_partitions_are_given_up():
    rec = stable_group(members=1, partitions=2, commit="auto")
    rec.apply({"type": "produce", "topic": "t", "value": "v", "partition": 0})
    rec.apply({"type": "consumer.remove", "group": "g", "id": "c1"})
    assert [(e["consumer"], e["offset"]) for e in rec.of_type("offset.committed")] == [("c1", 1)]


def test_with_latest_and_nothing_committed_a_rebalance_skips_to_the_end():
    # Kafka's pitfall: positions are dropped on an eager revoke, and with no committed offset
    # auto.offset.reset=latest sends even the same member to the log end.
    rec = Recorder(cluster_with_topic(name="t", partitions=1, brokers=1))
    rec.apply({"type": "group.configure", "group": "g", "auto_offset_reset": "latest"})
    rec.apply({"type": "consumer.add", "group": "g", "id": "a", "topics": ["t"],
               "processing_ms": 5_000, "commit": "auto"})
    rec.advance(10_000)
    for i in range(4):
        rec.apply({"type": "produce", "topic": "t", "value": str(i)})
    rec.advance(100)  # a is processing offset 0; nothing committed yet
    rec.apply({"type": "consumer.add", "group": "g", "id": "b", "topics": ["t"]})
    rec.apply({"type": "produce", "topic": "t", "value": "late"})
    rec.advance(20_000)
    assert [(e["consumer"], e["offset"]) for e in rec.of_type("record.delivered")] == [
        ("a", 0)]  # offsets 1-4 skipped; the next record produced would be read
