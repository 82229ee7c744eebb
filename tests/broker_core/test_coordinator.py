"""The coordinator core and the offsets store that both kinds of group have (coordinator.py,
offsets.py): the per-state answers, composition instead of inheritance, and a group changing
hands with its offsets store."""

import inspect

import pytest

from broker_core.classic import ClientGroup, convert
from broker_core.coordinator import (
    ANSWER,
    CLIENTS,
    COMPLETING,
    DEAD,
    EMPTY,
    MODELLED,
    PREPARING,
    REFUSE,
    STABLE,
    STATE_ANSWERS,
    WAIT,
    ConsumerGroup,
    Coordinator,
    GroupError,
)
from broker_core.group import GROUP_DEFAULTS, Group
from broker_core.offsets import Offsets

from .helpers import Recorder, cluster_with_topic


def test_each_state_answers_heartbeat_sync_and_commit_as_kafkas_coordinator():
    # GroupCoordinator.handleHeartbeat / doSyncGroup / doCommitOffsets, by group state.
    table = {request: {state: entry[:2] for state, entry in rows.items()}
             for request, rows in STATE_ANSWERS.items()}
    assert table == {
        "heartbeat": {EMPTY: (REFUSE, "UNKNOWN_MEMBER_ID"),
                      PREPARING: (ANSWER, "REBALANCE_IN_PROGRESS"),
                      COMPLETING: (ANSWER, "NONE"), STABLE: (ANSWER, "NONE"),
                      DEAD: (REFUSE, "COORDINATOR_NOT_AVAILABLE")},
        "sync": {EMPTY: (REFUSE, "UNKNOWN_MEMBER_ID"),
                 PREPARING: (REFUSE, "REBALANCE_IN_PROGRESS"),
                 COMPLETING: (WAIT,), STABLE: (ANSWER, "NONE"),
                 DEAD: (REFUSE, "COORDINATOR_NOT_AVAILABLE")},
        "commit": {EMPTY: (ANSWER, "NONE"), PREPARING: (ANSWER, "NONE"),
                   COMPLETING: (REFUSE, "REBALANCE_IN_PROGRESS"), STABLE: (ANSWER, "NONE"),
                   DEAD: (REFUSE, "COORDINATOR_NOT_AVAILABLE")},
    }


def test_the_core_refuses_with_kafkas_error_and_says_nothing():
    cluster = cluster_with_topic(name="t", partitions=1)
    core = Coordinator(cluster, "g", on_join_over=lambda: None)
    seq = cluster.seq
    with pytest.raises(GroupError) as info:
        core.answer("heartbeat")
    assert (info.value.error, info.value.field, info.value.message) == \
        ("UNKNOWN_MEMBER_ID", "member_id", "group 'g' is Empty")
    core.transition(PREPARING)
    assert core.answer("heartbeat") == "REBALANCE_IN_PROGRESS"
    assert core.answer("commit") == "NONE"
    with pytest.raises(GroupError, match="preparing a rebalance"):
        core.answer("sync")
    with pytest.raises(AssertionError, match="PreparingRebalance -> Stable"):
        core.transition(STABLE)
    assert [e["type"] for e in cluster.events if e["seq"] > seq] == ["group.state_changed"]


def test_neither_kind_of_group_is_the_other_and_both_offer_what_any_group_offers():
    assert not issubclass(ClientGroup, Group) and not issubclass(Group, ClientGroup)
    cluster = cluster_with_topic(name="t", partitions=1)
    promised = {name for name in vars(ConsumerGroup) if not name.startswith("_")}
    promised |= set(inspect.get_annotations(ConsumerGroup))
    for cls, kind in ((Group, MODELLED), (ClientGroup, CLIENTS)):
        group = cls(cluster, "g", dict(GROUP_DEFAULTS))
        assert group.kind == kind and group.external == (kind == CLIENTS)
        assert isinstance(group.core, Coordinator) and isinstance(group.offsets, Offsets)
        assert sorted(n for n in promised if not hasattr(group, n)) == [], cls.__name__
        assert group.committed is group.offsets.committed
        assert group.lag_rows() == [] and group.snapshot()["state"] == EMPTY


def test_a_group_changing_hands_is_handed_its_offsets_store():
    rec = Recorder(cluster_with_topic(name="t", partitions=2))
    cluster = rec.cluster
    rec.apply({"type": "client.commit_offsets", "group": "g", "member_id": "", "generation": -1,
               "offsets": [{"topic": "t", "partition": 0, "offset": 3, "metadata": "m"},
                           {"topic": "t", "partition": 1, "offset": -2}]})
    clients = cluster.groups["g"]
    store = clients.offsets
    modelled = convert(clients, Group)
    assert cluster.groups["g"] is modelled and modelled.offsets is store
    # kafkajs' -2 ("earliest") means nothing to a modelled consumer: it starts by
    # auto_offset_reset there instead.
    p0, p1 = cluster.topics["t"].partitions
    assert store.committed == {p0: 3} and store.metadata[p0] == ("m", -1)
    back = convert(modelled, ClientGroup)
    assert back.offsets is store and back.generation == modelled.generation


def test_the_offsets_store_commits_resets_deletes_and_forgets():
    cluster = cluster_with_topic(name="t", partitions=2)
    p0, p1 = cluster.topics["t"].partitions
    store = Offsets(cluster, "g")
    store.commit("c1", p0, 5, metadata=("meta", 2))
    store.reset(p0, 0, "reset to earliest")
    assert [list(e) for e in cluster.events[-2:]] == [
        ["seq", "t_ms", "type", "group", "consumer", "topic", "partition", "offset"],
        ["seq", "t_ms", "type", "group", "consumer", "topic", "partition", "offset", "reason"]]
    assert cluster.events[-1]["consumer"] is None and p0 not in store.metadata
    store.commit(None, p1, 7)
    assert store.fetch([("t", 1), ("t", 9)]) == [
        {"topic": "t", "partition": 1, "offset": 7, "metadata": "", "leader_epoch": -1},
        {"topic": "t", "partition": 9, "offset": -1, "metadata": "", "leader_epoch": -1}]
    assert store.delete(p1) is True and store.delete(p1) is False
    store.forget([p0])
    assert store.committed == {} and store.fetch(None) == []
