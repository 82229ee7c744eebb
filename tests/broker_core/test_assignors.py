"""Tests for broker_core.assignors.

Golden examples come from the Javadoc of Kafka's assignor classes and from Kafka's own unit tests
(clients/src/test/java/org/apache/kafka/clients/consumer/); each test names its source. Kafka's
tests build subscriptions with ``buildSubscriptionV2Above(topics, owned, generation, i)``, which
here is ``Subscription(topics, owned, generation)``; ``subscription(topics, i)`` has no owned
partitions and no generation. Kafka's ``tp(topic, n)`` prints as ``topic-n``, which is how the
helper ``tps`` below reads partitions. The property tests at the end check the contracts the
group coordinator relies on for arbitrary input.
"""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker_core.assignors import (
    ASSIGNORS,
    PROTOCOL,
    Subscription,
    check_assignment,
    cooperative_sticky_assign,
    is_balanced,
    range_assign,
    roundrobin_assign,
    sticky_assign,
)

S = Subscription
STICKY = [sticky_assign, cooperative_sticky_assign]
STICKY_IDS = ["sticky", "cooperative-sticky"]


def tps(text):
    """'t0-1, t1-0' -> [('t0', 1), ('t1', 0)]; the Javadoc's t0p1 spelling is accepted too."""
    result = []
    for item in text.replace(",", " ").split():
        topic, _, number = item.rpartition("-") if "-" in item else item.rpartition("p")
        result.append((topic, int(number)))
    return result


def expect(**lists):
    """Expected assignment with each list sorted, the form every assignor returns."""
    return {member: sorted(tps(text)) for member, text in lists.items()}


def valid(subscriptions, partitions_per_topic, assignment):
    assert check_assignment(subscriptions, partitions_per_topic, assignment) == []
    return assignment


def revoked(subscriptions, assignment):
    return {
        tp
        for member, sub in subscriptions.items()
        for tp in sub.owned
        if tp not in assignment.get(member, ())
    }


def settle(assign, subscriptions, partitions_per_topic, generation=1):
    """One rebalance, plus the follow-ups a cooperative assignor asks for.

    Ported from CooperativeStickyAssignorTest.verifyValidityAndBalance: while some member has to
    revoke a partition, feed the assignment back as owned partitions and rebalance again (at most
    four times), checking that no partition is handed over in the round it is revoked.
    """
    assignment = assign(subscriptions, partitions_per_topic)
    if PROTOCOL[_name(assign)] == "eager":
        return assignment
    for _ in range(4):
        withheld = revoked(subscriptions, assignment)
        if not withheld:
            return assignment
        assert check_assignment(
            subscriptions, partitions_per_topic, assignment, withheld=withheld
        ) == []
        subscriptions = {
            member: S(sub.topics, tuple(assignment[member]), generation)
            for member, sub in subscriptions.items()
        }
        assignment = assign(subscriptions, partitions_per_topic)
    assert not revoked(subscriptions, assignment), "still revoking after four follow-ups"
    return assignment


def _name(assign):
    return next(name for name, fn in ASSIGNORS.items() if fn is assign)


# -- registry -------------------------------------------------------------------------------------


def test_registry_names_and_protocols():
    assert ASSIGNORS == {
        "range": range_assign,
        "roundrobin": roundrobin_assign,
        "sticky": sticky_assign,
        "cooperative-sticky": cooperative_sticky_assign,
    }
    assert PROTOCOL == {
        "range": "eager",
        "roundrobin": "eager",
        "sticky": "eager",
        "cooperative-sticky": "cooperative",
    }


# -- cases every assignor shares (Kafka has one copy per assignor test class) ---------------------


@pytest.mark.parametrize("assign", list(ASSIGNORS.values()), ids=list(ASSIGNORS))
def test_one_consumer_no_topic(assign):
    # RangeAssignorTest / RoundRobinAssignorTest / AbstractStickyAssignorTest.testOneConsumerNoTopic
    subs = {"consumer": S(())}
    assert assign(subs, {}) == {"consumer": []}


@pytest.mark.parametrize("assign", list(ASSIGNORS.values()), ids=list(ASSIGNORS))
@pytest.mark.parametrize("partitions_per_topic", [{}, {"topic": 0}])
def test_one_consumer_nonexistent_topic(assign, partitions_per_topic):
    # *AssignorTest.testOneConsumerNonexistentTopic: metadata missing, or a topic with no partitions
    subs = {"consumer": S(("topic",))}
    assert assign(subs, partitions_per_topic) == {"consumer": []}


@pytest.mark.parametrize("assign", list(ASSIGNORS.values()), ids=list(ASSIGNORS))
def test_one_consumer_one_topic(assign):
    # *AssignorTest.testOneConsumerOneTopic
    subs = {"consumer": S(("topic",))}
    assert assign(subs, {"topic": 3}) == expect(consumer="topic-0 topic-1 topic-2")


@pytest.mark.parametrize("assign", list(ASSIGNORS.values()), ids=list(ASSIGNORS))
def test_only_assigns_partitions_from_subscribed_topics(assign):
    # *AssignorTest.testOnlyAssignsPartitionsFromSubscribedTopics; the sticky version also claims
    # partitions of the other topic, which must be ignored.
    subs = {"consumer": S(("topic",), tuple(tps("topic-0 topic-1 other-0 other-1")), 1)}
    result = assign(subs, {"topic": 3, "other": 3})
    assert result == expect(consumer="topic-0 topic-1 topic-2")


@pytest.mark.parametrize("assign", list(ASSIGNORS.values()), ids=list(ASSIGNORS))
def test_one_consumer_multiple_topics(assign):
    # *AssignorTest.testOneConsumerMultipleTopics
    subs = {"consumer": S(("topic1", "topic2"))}
    result = assign(subs, {"topic1": 1, "topic2": 2})
    assert result == expect(consumer="topic1-0 topic2-0 topic2-1")


@pytest.mark.parametrize("assign", list(ASSIGNORS.values()), ids=list(ASSIGNORS))
def test_two_consumers_one_topic_one_partition(assign):
    # *AssignorTest.testTwoConsumersOneTopicOnePartition (Range and RoundRobin pin consumer1)
    subs = {"consumer1": S(("topic",)), "consumer2": S(("topic",))}
    assert assign(subs, {"topic": 1}) == expect(consumer1="topic-0", consumer2="")


@pytest.mark.parametrize("assign", list(ASSIGNORS.values()), ids=list(ASSIGNORS))
def test_two_consumers_one_topic_two_partitions(assign):
    # *AssignorTest.testTwoConsumersOneTopicTwoPartitions
    subs = {"consumer1": S(("topic",)), "consumer2": S(("topic",))}
    assert assign(subs, {"topic": 2}) == expect(consumer1="topic-0", consumer2="topic-1")


# -- range ----------------------------------------------------------------------------------------


def test_range_javadoc_example():
    # RangeAssignor Javadoc: C0, C1 both on t0 and t1 with three partitions each.
    subs = {"C0": S(("t0", "t1")), "C1": S(("t0", "t1"))}
    result = range_assign(subs, {"t0": 3, "t1": 3})
    assert result == {
        "C0": [("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)],
        "C1": [("t0", 2), ("t1", 2)],
    }


def test_range_javadoc_member_ids_decide_the_order():
    # RangeAssignor Javadoc: after a rolling bounce C0 comes back as C3 and C1 as C2, and without
    # group.instance.id the new member-id order swaps the assignment.
    subs = {"C3": S(("t0", "t1")), "C2": S(("t0", "t1"))}
    result = range_assign(subs, {"t0": 3, "t1": 3})
    assert result == expect(C2="t0p0 t0p1 t1p0 t1p1", C3="t0p2 t1p2")


def test_range_multiple_consumers_mixed_topics():
    # RangeAssignorTest.testMultipleConsumersMixedTopics
    subs = {
        "consumer1": S(("topic1",)),
        "consumer2": S(("topic1", "topic2")),
        "consumer3": S(("topic1",)),
    }
    result = range_assign(subs, {"topic1": 3, "topic2": 2})
    assert result == expect(
        consumer1="topic1-0",
        consumer2="topic1-1 topic2-0 topic2-1",
        consumer3="topic1-2",
    )


def test_range_two_consumers_two_topics_six_partitions():
    # RangeAssignorTest.testTwoConsumersTwoTopicsSixPartitions
    subs = {"consumer1": S(("topic1", "topic2")), "consumer2": S(("topic1", "topic2"))}
    result = range_assign(subs, {"topic1": 3, "topic2": 3})
    assert result == expect(
        consumer1="topic1-0 topic1-1 topic2-0 topic2-1", consumer2="topic1-2 topic2-2"
    )


def test_range_without_racks_uniform_and_non_equal_subscriptions():
    # RangeAssignorTest.testRackAwareAssignmentWithUniformSubscription and ...NonEqualSubscription,
    # the verifyNonRackAwareAssignment branch.
    ppt = {"t1": 6, "t2": 7, "t3": 2}
    every = ("t1", "t2", "t3")
    uniform = {"consumer0": S(every), "consumer1": S(every), "consumer2": S(every)}
    assert range_assign(uniform, ppt) == expect(
        consumer0="t1-0, t1-1, t2-0, t2-1, t2-2, t3-0",
        consumer1="t1-2, t1-3, t2-3, t2-4, t3-1",
        consumer2="t1-4, t1-5, t2-5, t2-6",
    )
    non_equal = {"consumer0": S(every), "consumer1": S(every), "consumer2": S(("t1", "t3"))}
    assert range_assign(non_equal, ppt) == expect(
        consumer0="t1-0, t1-1, t2-0, t2-1, t2-2, t2-3, t3-0",
        consumer1="t1-2, t1-3, t2-4, t2-5, t2-6, t3-1",
        consumer2="t1-4, t1-5",
    )


def test_range_is_per_topic_so_remainders_pile_up():
    # RangeAssignor Javadoc's point: the first member wins the remainder of every topic.
    subs = {"a": S(("x", "y", "z")), "b": S(("x", "y", "z"))}
    result = range_assign(subs, {"x": 1, "y": 1, "z": 1})
    assert result == expect(a="x-0 y-0 z-0", b="")


# -- round robin ----------------------------------------------------------------------------------


def test_roundrobin_javadoc_example():
    # RoundRobinAssignor Javadoc, first example.
    subs = {"C0": S(("t0", "t1")), "C1": S(("t0", "t1"))}
    result = roundrobin_assign(subs, {"t0": 3, "t1": 3})
    assert result == {
        "C0": [("t0", 0), ("t0", 2), ("t1", 1)],
        "C1": [("t0", 1), ("t1", 0), ("t1", 2)],
    }


def test_roundrobin_javadoc_unequal_subscriptions():
    # RoundRobinAssignor Javadoc, second example: skipping non-subscribers piles up on C2.
    subs = {"C0": S(("t0",)), "C1": S(("t0", "t1")), "C2": S(("t0", "t1", "t2"))}
    result = roundrobin_assign(subs, {"t0": 1, "t1": 2, "t2": 3})
    assert result == expect(C0="t0p0", C1="t1p0", C2="t1p1 t2p0 t2p1 t2p2")


def test_roundrobin_javadoc_rolling_bounce():
    # RoundRobinAssignor Javadoc, static membership section: C0, C1, C2 come back as C5, C3, C4.
    ppt = {"t0": 3, "t1": 3}
    before = roundrobin_assign({c: S(("t0", "t1")) for c in ("C0", "C1", "C2")}, ppt)
    assert before == expect(C0="t0p0 t1p0", C1="t0p1 t1p1", C2="t0p2 t1p2")
    after = roundrobin_assign({c: S(("t0", "t1")) for c in ("C5", "C3", "C4")}, ppt)
    assert after == expect(C3="t0p0 t1p0", C4="t0p1 t1p1", C5="t0p2 t1p2")


def test_roundrobin_multiple_consumers_mixed_topics():
    # RoundRobinAssignorTest.testMultipleConsumersMixedTopics
    subs = {
        "consumer1": S(("topic1",)),
        "consumer2": S(("topic1", "topic2")),
        "consumer3": S(("topic1",)),
    }
    result = roundrobin_assign(subs, {"topic1": 3, "topic2": 2})
    assert result == expect(
        consumer1="topic1-0", consumer2="topic1-1 topic2-0 topic2-1", consumer3="topic1-2"
    )


def test_roundrobin_two_dynamic_consumers_two_topics_six_partitions():
    # RoundRobinAssignorTest.testTwoDynamicConsumersTwoTopicsSixPartitions
    subs = {"consumer1": S(("topic1", "topic2")), "consumer2": S(("topic1", "topic2"))}
    result = roundrobin_assign(subs, {"topic1": 3, "topic2": 3})
    assert result == expect(
        consumer1="topic1-0 topic1-2 topic2-1", consumer2="topic1-1 topic2-0 topic2-2"
    )


# -- sticky: Javadoc ------------------------------------------------------------------------------


def test_sticky_javadoc_example_1():
    # StickyAssignor Javadoc, example 1: three consumers, four topics with two partitions each.
    ppt = {"t0": 2, "t1": 2, "t2": 2, "t3": 2}
    every = ("t0", "t1", "t2", "t3")
    first = sticky_assign({c: S(every) for c in ("C0", "C1", "C2")}, ppt)
    assert first == expect(C0="t0p0 t1p1 t3p0", C1="t0p1 t2p0 t3p1", C2="t1p0 t2p1")
    assert first == roundrobin_assign({c: S(every) for c in ("C0", "C1", "C2")}, ppt)

    # C1 leaves. Both survivors keep all they had and split C1's three partitions.
    subs = {"C0": S(every, tuple(first["C0"]), 1), "C2": S(every, tuple(first["C2"]), 1)}
    second = sticky_assign(subs, ppt)
    assert set(first["C0"]) <= set(second["C0"]) and set(first["C2"]) <= set(second["C2"])
    # The Javadoc prints C0 [t0p0, t1p1, t3p0, t2p0], C2 [t1p0, t2p1, t0p1, t3p1]: that is the
    # general algorithm's answer. For identical subscriptions Kafka (since KAFKA-9987) runs the
    # constrained algorithm, which deals C1's partitions in order, so the current Java code
    # returns this instead (checked against the Java source):
    assert second == expect(C0="t0p0 t0p1 t1p1 t3p0", C2="t1p0 t2p0 t2p1 t3p1")
    # Make the subscriptions differ (a topic that does not exist is enough) and the general
    # algorithm reproduces the Javadoc exactly.
    subs["C0"] = S(every + ("no-such-topic",), tuple(first["C0"]), 1)
    assert sticky_assign(subs, ppt) == expect(
        C0="t0p0, t1p1, t3p0, t2p0", C2="t1p0, t2p1, t0p1, t3p1"
    )


def test_sticky_javadoc_example_2():
    # StickyAssignor Javadoc, example 2: t0, t1, t2 with 1, 2 and 3 partitions, nested
    # subscriptions. Round robin gives C2 four partitions; sticky balances better.
    ppt = {"t0": 1, "t1": 2, "t2": 3}
    subs = {"C0": S(("t0",)), "C1": S(("t0", "t1")), "C2": S(("t0", "t1", "t2"))}
    assert roundrobin_assign(subs, ppt) == expect(C0="t0p0", C1="t1p0", C2="t1p1 t2p0 t2p1 t2p2")
    first = sticky_assign(subs, ppt)
    assert first == expect(C0="t0p0", C1="t1p0 t1p1", C2="t2p0 t2p1 t2p2")

    # C0 leaves: round robin preserves three assignments, sticky preserves all five.
    subs = {
        "C1": S(("t0", "t1"), tuple(first["C1"]), 1),
        "C2": S(("t0", "t1", "t2"), tuple(first["C2"]), 1),
    }
    assert roundrobin_assign(subs, ppt) == expect(C1="t0p0 t1p1", C2="t1p0 t2p0 t2p1 t2p2")
    assert sticky_assign(subs, ppt) == expect(C1="t1p0 t1p1 t0p0", C2="t2p0 t2p1 t2p2")


# -- sticky: AbstractStickyAssignorTest (runs for both sticky assignors in Kafka) -----------------


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_multiple_consumers_mixed_topic_subscriptions(assign):
    # AbstractStickyAssignorTest.testMultipleConsumersMixedTopicSubscriptions (general algorithm)
    subs = {
        "consumer1": S(("topic1",)),
        "consumer2": S(("topic1", "topic2")),
        "consumer3": S(("topic1",)),
    }
    result = assign(subs, {"topic1": 3, "topic2": 2})
    assert result == expect(
        consumer1="topic1-0 topic1-2", consumer2="topic2-0 topic2-1", consumer3="topic1-1"
    )


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_two_consumers_two_topics_six_partitions(assign):
    # AbstractStickyAssignorTest.testTwoConsumersTwoTopicsSixPartitions
    subs = {"consumer1": S(("topic1", "topic2")), "consumer2": S(("topic1", "topic2"))}
    result = assign(subs, {"topic1": 3, "topic2": 3})
    assert result == expect(
        consumer1="topic1-0 topic1-2 topic2-1", consumer2="topic1-1 topic2-0 topic2-2"
    )


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_consumer_owning_min_quota_expected_max_quota(assign):
    # AbstractStickyAssignorTest.testConsumerOwningMinQuotaExpectedMaxQuota
    topics = ("topic1", "topic2")
    subs = {
        "consumer1": S(topics, tuple(tps("topic1-0 topic2-1")), 1),
        "consumer2": S(topics, tuple(tps("topic1-1 topic2-2")), 1),
    }
    result = assign(subs, {"topic1": 2, "topic2": 3})
    assert result == expect(consumer1="topic1-0 topic2-1 topic2-0", consumer2="topic1-1 topic2-2")


def test_sticky_max_quota_consumers_more_than_expected():
    # AbstractStickyAssignorTest.testMaxQuotaConsumerMoreThanNumExpectedMaxCapacityMembers:
    # both owners sit at max_quota but only one may stay there; topic2-0 moves to consumer3.
    topics = ("topic1", "topic2")
    subs = {
        "consumer1": S(topics, tuple(tps("topic1-0 topic2-0")), 1),
        "consumer2": S(topics, tuple(tps("topic1-1 topic2-1")), 1),
        "consumer3": S(topics, (), 1),
    }
    ppt = {"topic1": 2, "topic2": 2}
    assert sticky_assign(subs, ppt) == expect(
        consumer1="topic1-0", consumer2="topic1-1 topic2-1", consumer3="topic2-0"
    )
    # Kafka asserts partitionsTransferringOwnership == {topic2-0: consumer3}: withheld this round.
    assert cooperative_sticky_assign(subs, ppt) == expect(
        consumer1="topic1-0", consumer2="topic1-1 topic2-1", consumer3=""
    )
    assert settle(cooperative_sticky_assign, subs, ppt) == sticky_assign(subs, ppt)


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_all_consumers_under_min_quota(assign):
    # AbstractStickyAssignorTest.testAllConsumersAreUnderMinQuota
    topics = ("topic1", "topic2")
    subs = {
        "consumer1": S(topics, (("topic1", 0),), 1),
        "consumer2": S(topics, (("topic1", 1),), 1),
        "consumer3": S(topics, (), 1),
    }
    result = assign(subs, {"topic1": 2, "topic2": 3})
    assert result == expect(
        consumer1="topic1-0 topic2-1", consumer2="topic1-1 topic2-2", consumer3="topic2-0"
    )


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_all_consumers_reach_expected_quota(assign):
    # AbstractStickyAssignorTest.testAllConsumersReachExpectedQuotaAndAreConsideredFilled
    subs = {
        "consumer1": S(("topic",), tuple(tps("topic-0 topic-1")), 1),
        "consumer2": S(("topic",), (("topic", 2),), 1),
        "consumer3": S(("topic",), (), 1),
    }
    result = assign(subs, {"topic": 4})
    assert result == expect(consumer1="topic-0 topic-1", consumer2="topic-2", consumer3="topic-3")


def test_sticky_add_remove_consumer_one_topic():
    # AbstractStickyAssignorTest.testAddRemoveConsumerOneTopic
    ppt = {"topic": 3}
    first = sticky_assign({"consumer1": S(("topic",))}, ppt)
    assert first == expect(consumer1="topic-0 topic-1 topic-2")

    subs = {
        "consumer1": S(("topic",), tuple(first["consumer1"]), 1),
        "consumer2": S(("topic",), (), 1),
    }
    second = sticky_assign(subs, ppt)
    assert second == expect(consumer1="topic-0 topic-1", consumer2="topic-2")
    # partitionsTransferringOwnership == {topic-2: consumer2}
    assert cooperative_sticky_assign(subs, ppt) == expect(consumer1="topic-0 topic-1", consumer2="")
    assert settle(cooperative_sticky_assign, subs, ppt) == second

    third = sticky_assign({"consumer2": S(("topic",), tuple(second["consumer2"]), 1)}, ppt)
    assert third == expect(consumer2="topic-0 topic-1 topic-2")


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_add_remove_two_consumers_two_topics(assign):
    # AbstractStickyAssignorTest.testAddRemoveTwoConsumersTwoTopics
    topics = ("topic1", "topic2")
    ppt = {"topic1": 3, "topic2": 4}
    first = assign({"consumer1": S(topics), "consumer2": S(topics)}, ppt)
    assert first == expect(
        consumer1="topic1-0 topic1-2 topic2-1 topic2-3", consumer2="topic1-1 topic2-0 topic2-2"
    )

    subs = {
        "consumer1": S(topics, tuple(first["consumer1"]), 1),
        "consumer2": S(topics, tuple(first["consumer2"]), 1),
        "consumer3": S(topics, (), 1),
        "consumer4": S(topics, (), 1),
    }
    if assign is cooperative_sticky_assign:
        # partitionsTransferringOwnership == {topic1-2: consumer3, topic2-3: consumer3,
        # topic2-2: consumer4}: all three are withheld in the first round.
        assert assign(subs, ppt) == expect(
            consumer1="topic1-0 topic2-1", consumer2="topic2-0 topic1-1", consumer3="", consumer4=""
        )
    second = settle(assign, subs, ppt)
    assert second == expect(
        consumer1="topic1-0 topic2-1",
        consumer2="topic2-0 topic1-1",
        consumer3="topic1-2 topic2-3",
        consumer4="topic2-2",
    )

    subs = {
        "consumer3": S(topics, tuple(second["consumer3"]), 1),
        "consumer4": S(topics, tuple(second["consumer4"]), 1),
    }
    assert assign(subs, ppt) == expect(
        consumer3="topic1-2 topic2-3 topic1-0 topic2-1", consumer4="topic2-2 topic1-1 topic2-0"
    )


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_topic_balance_after_reassignment(assign):
    # AbstractStickyAssignorTest.testTopicBalanceAfterReassignment: every member keeps an equal
    # share of each topic as members come and go.
    topics = ("topic1", "topic2")
    ppt = {"topic1": 12, "topic2": 12}
    owned = {"consumer1": ()}
    for members, share in [
        (["consumer1"], 12),
        (["consumer1", "consumer2"], 6),
        (["consumer1", "consumer2", "consumer3", "consumer4"], 3),
        (["consumer3", "consumer4"], 6),
    ]:
        subs = {m: S(topics, tuple(owned.get(m, ())), 1) for m in members}
        result = valid(subs, ppt, settle(assign, subs, ppt))
        for partitions in result.values():
            assert sum(1 for t, _ in partitions if t == "topic1") == share
            assert sum(1 for t, _ in partitions if t == "topic2") == share
        owned = result


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_add_remove_topic_two_consumers(assign):
    # AbstractStickyAssignorTest.testAddRemoveTopicTwoConsumers
    ppt = {"topic": 3}
    first = assign({"consumer1": S(("topic",)), "consumer2": S(("topic",))}, ppt)
    assert sorted(len(p) for p in first.values()) == [1, 2]

    ppt = {"topic": 3, "topic2": 3}
    both = ("topic", "topic2")
    subs = {m: S(both, tuple(first[m]), 1) for m in first}
    second = valid(subs, ppt, settle(assign, subs, ppt))
    for member in first:
        assert len(second[member]) == 3 and set(first[member]) <= set(second[member])

    ppt = {"topic2": 3}
    subs = {m: S(("topic2",), tuple(second[m]), 1) for m in second}
    third = valid(subs, ppt, settle(assign, subs, ppt))
    assert sorted(len(p) for p in third.values()) == [1, 2]
    for member in first:
        assert set(third[member]) <= set(second[member])


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_stickiness_when_the_leader_leaves(assign):
    # AbstractStickyAssignorTest.testStickiness: four consumers, three partitions; consumer1
    # leaves and whoever held a partition keeps it.
    ppt = {"topic1": 3}
    names = ["consumer1", "consumer2", "consumer3", "consumer4"]
    first = assign({m: S(("topic1",)) for m in names}, ppt)
    assert all(len(p) <= 1 for p in first.values())
    subs = {m: S(("topic1",), tuple(first[m]), 1) for m in names[1:]}
    second = valid(subs, ppt, settle(assign, subs, ppt))
    for member in names[1:]:
        assert len(second[member]) == 1
        assert set(first[member]) <= set(second[member])


def _name_with_width(prefix, index, maximum):
    # Kafka's getTopicName / getConsumerName: zero-padded to the width of `maximum`.
    return prefix + str(index).zfill(len(str(maximum)))


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_reassignment_after_one_consumer_leaves(assign):
    # AbstractStickyAssignorTest.testReassignmentAfterOneConsumerLeaves: consumer i subscribes
    # to topics 1..i, topic i has i partitions.
    ppt = {_name_with_width("t", i, 20): i for i in range(1, 20)}
    subs = {
        _name_with_width("c", i, 20): S(
            tuple(_name_with_width("t", j, 20) for j in range(1, i + 1))
        )
        for i in range(1, 20)
    }
    first = valid(subs, ppt, settle(assign, subs, ppt))
    assert is_balanced(subs, ppt, first)
    subs = {m: S(s.topics, tuple(first[m]), 1) for m, s in subs.items() if m != "c10"}
    second = valid(subs, ppt, settle(assign, subs, ppt))
    assert is_balanced(subs, ppt, second)


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_reassignment_after_one_consumer_added(assign):
    # AbstractStickyAssignorTest.testReassignmentAfterOneConsumerAdded
    ppt = {"topic": 20}
    subs = {_name_with_width("c", i, 10): S(("topic",)) for i in range(1, 10)}
    valid(subs, ppt, assign(subs, ppt))
    subs[_name_with_width("c", 10, 10)] = S(("topic",))
    result = valid(subs, ppt, assign(subs, ppt))
    assert is_balanced(subs, ppt, result)


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_same_subscriptions(assign):
    # AbstractStickyAssignorTest.testSameSubscriptions: 14 topics with 1..14 partitions, eight
    # consumers subscribed to all; then consumer 5 leaves.
    ppt = {_name_with_width("t", i, 15): i for i in range(1, 15)}
    every = tuple(sorted(ppt))
    subs = {_name_with_width("c", i, 9): S(every) for i in range(1, 9)}
    first = valid(subs, ppt, assign(subs, ppt))
    subs = {m: S(every, tuple(first[m]), 1) for m in subs if m != "c5"}
    second = valid(subs, ppt, settle(assign, subs, ppt))
    counts = [len(p) for p in second.values()]
    assert max(counts) - min(counts) <= 1
    # 105 partitions: 13 or 14 each before, 15 each after, so nobody loses anything.
    for member in subs:
        assert set(first[member]) <= set(second[member])


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_poor_round_robin_scenario(assign):
    # AbstractStickyAssignorTest.testPoorRoundRobinAssignmentScenario
    ppt = {f"topic{i}": (i % 2) + 1 for i in range(1, 6)}
    every = tuple(sorted(ppt))
    odd = ("topic1", "topic3", "topic5")
    subs = {"consumer1": S(every), "consumer2": S(odd), "consumer3": S(odd), "consumer4": S(every)}
    result = valid(subs, ppt, assign(subs, ppt))
    assert is_balanced(subs, ppt, result)
    assert max(len(p) for p in result.values()) == 2


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_move_existing_assignments(assign):
    # AbstractStickyAssignorTest.testMoveExistingAssignments
    ppt = {f"topic{i}": 1 for i in range(1, 7)}
    subs = {
        "consumer1": S(("topic1", "topic2"), tuple(tps("topic1-0")), 1),
        "consumer2": S(
            ("topic1", "topic2", "topic3", "topic4"), tuple(tps("topic2-0 topic3-0")), 1
        ),
        "consumer3": S(
            ("topic2", "topic3", "topic4", "topic5", "topic6"),
            tuple(tps("topic4-0 topic5-0 topic6-0")),
            1,
        ),
    }
    result = valid(subs, ppt, settle(assign, subs, ppt))
    assert is_balanced(subs, ppt, result)


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_new_subscription(assign):
    # AbstractStickyAssignorTest.testNewSubscription: consumer i subscribes to topics i..3i-2,
    # then consumer 0 adds topic 1.
    ppt = {_name_with_width("t", i, 5): 1 for i in range(1, 5)}
    topics = {
        _name_with_width("c", i, 3): tuple(_name_with_width("t", j, 5) for j in range(i, 3 * i - 1))
        for i in range(3)
    }
    fresh = {m: S(t) for m, t in topics.items()}
    first = valid(fresh, ppt, assign(fresh, ppt))
    topics["c0"] += ("t1",)
    subs = {m: S(t, tuple(first[m]), 1) for m, t in topics.items()}
    result = valid(subs, ppt, settle(assign, subs, ppt))
    assert is_balanced(subs, ppt, result)


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_assignment_updated_for_deleted_topic(assign):
    # AbstractStickyAssignorTest.testAssignmentUpdatedForDeletedTopic
    subs = {"consumer": S(("topic1", "topic2", "topic3"))}
    result = assign(subs, {"topic1": 1, "topic3": 100})
    assert len(result["consumer"]) == 101


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_only_subscribed_topic_deleted(assign):
    # AbstractStickyAssignorTest.testNoExceptionThrownWhenOnlySubscribedTopicDeleted
    first = assign({"consumer": S(("topic",))}, {"topic": 3})
    subs = {"consumer": S(("topic",), tuple(first["consumer"]), 1)}
    assert assign(subs, {}) == {"consumer": []}


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
@pytest.mark.parametrize("stale_generation", [9, -1], ids=["stale", "no-generation"])
def test_sticky_owned_partitions_invalidated_for_stale_generation(assign, stale_generation):
    # AbstractStickyAssignorTest.testOwnedPartitionsAreInvalidatedForConsumerWithStaleGeneration
    # and ...WithNoGeneration: the claim from generation 10 wins.
    topics = ("topic", "topic2")
    claimed = tuple(tps("topic-0 topic-2 topic2-1"))
    subs = {
        "consumer1": S(topics, claimed, 10),
        "consumer2": S(topics, claimed, stale_generation),
    }
    result = assign(subs, {"topic": 3, "topic2": 3})
    assert result == expect(
        consumer1="topic-0 topic-2 topic2-1", consumer2="topic-1 topic2-0 topic2-2"
    )


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_owned_partitions_invalidated_with_multiple_generations(assign):
    # AbstractStickyAssignorTest.testOwnedPartitionsAreInvalidatedForConsumerWithMultipleGeneration
    topics = ("topic", "topic2")
    subs = {
        "consumer1": S(topics, tuple(tps("topic-0 topic2-1 topic-1")), 10),
        "consumer2": S(topics, tuple(tps("topic-0 topic2-1 topic2-2")), 8),
    }
    result = assign(subs, {"topic": 3, "topic2": 3})
    assert result == expect(
        consumer1="topic-0 topic2-1 topic-1", consumer2="topic-2 topic2-2 topic2-0"
    )


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_partitions_assigned_to_highest_generation(assign):
    # AbstractStickyAssignorTest.testEnsurePartitionsAssignedToHighestGeneration
    topics = ("topic", "topic2", "topic3")
    subs = {
        "consumer1": S(topics, tuple(tps("topic-0 topic2-0 topic3-0")), 10),
        "consumer2": S(topics, tuple(tps("topic-1 topic2-1 topic3-1")), 9),
        "consumer3": S(topics, tuple(tps("topic2-1 topic3-0 topic3-2")), 8),
    }
    result = assign(subs, {"topic": 3, "topic2": 3, "topic3": 3})
    assert result == expect(
        consumer1="topic-0 topic2-0 topic3-0",
        consumer2="topic-1 topic2-1 topic3-1",
        consumer3="topic-2 topic2-2 topic3-2",
    )


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_no_reassignment_on_current_members(assign):
    # AbstractStickyAssignorTest.testNoReassignmentOnCurrentMembers: the new member only gets
    # partitions nobody owns.
    topics = ("topic", "topic2", "topic3", "topic1")
    subs = {
        "consumer1": S(topics, (), -1),
        "consumer2": S(topics, tuple(tps("topic-0 topic2-0 topic1-0")), 9),
        "consumer3": S(topics, tuple(tps("topic3-2 topic2-2 topic1-1")), 8),
        "consumer4": S(topics, tuple(tps("topic3-1 topic-1 topic-2")), 7),
    }
    result = assign(subs, {"topic": 3, "topic1": 3, "topic2": 3, "topic3": 3})
    assert result["consumer1"] == sorted(tps("topic1-2 topic2-1 topic3-0"))
    assert not revoked(subs, result)


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_same_partition_claimed_in_three_generations(assign):
    # AbstractStickyAssignorTest.testSubscriptionNotEqualAndAssignSamePartitionWith3Generation
    ppt = {"topic": 6, "topic1": 1}
    for g1, g2, g3 in [(1, 2, 3), (1, 3, 2), (2, 1, 3), (2, 3, 1), (3, 1, 2), (3, 2, 1)]:
        subs = {
            "consumer1": S(("topic",), tuple(tps("topic-0 topic-2")), g1),
            "consumer2": S(("topic",), tuple(tps("topic-1 topic-2 topic-3")), g2),
            "consumer3": S(("topic",), tuple(tps("topic-2 topic-4 topic-5")), g3),
            "consumer4": S(("topic1",), tuple(tps("topic1-0")), 2),
        }
        result = assign(subs, ppt)
        if assign is sticky_assign:
            valid(subs, ppt, result)
        assert all(1 <= len(p) <= 2 for p in result.values())


@pytest.mark.parametrize("assign", STICKY, ids=STICKY_IDS)
def test_sticky_without_racks_uniform_subscription(assign):
    # AbstractStickyAssignorTest.testRackAwareAssignmentWithUniformSubscription, the
    # nonRackAwareAssignment lists: fresh, then again with them as owned partitions.
    ppt = {"t1": 6, "t2": 7, "t3": 2}
    expected = expect(
        consumer0="t1-0, t1-3, t2-0, t2-3, t2-6",
        consumer1="t1-1, t1-4, t2-1, t2-4, t3-0",
        consumer2="t1-2, t1-5, t2-2, t2-5, t3-1",
    )
    subs = {m: S(("t1", "t2", "t3")) for m in expected}
    assert assign(subs, ppt) == expected
    subs = {m: S(("t1", "t2", "t3"), tuple(expected[m])) for m in expected}
    assert assign(subs, ppt) == expected


def test_sticky_without_racks_non_equal_subscription():
    # AbstractStickyAssignorTest.testRackAwareAssignmentWithNonEqualSubscription (rack-unaware
    # branches). Fresh assignment for both assignors:
    ppt = {"t1": 6, "t2": 7, "t3": 2}
    every = ("t1", "t2", "t3")
    topics = {"consumer0": every, "consumer1": every, "consumer2": ("t1", "t3")}
    fresh = expect(
        consumer0="t1-5, t2-0, t2-2, t2-4, t2-6",
        consumer1="t1-3, t2-1, t2-3, t2-5, t3-0",
        consumer2="t1-0, t1-1, t1-2, t1-4, t3-1",
    )
    for assign in STICKY:
        assert assign({m: S(t) for m, t in topics.items()}, ppt) == fresh
    # "Verify that result is same as non-rack-aware assignment if all racks match", cooperative
    # branch: from badly skewed ownership, first the intermediate round, then the final one.
    owned = {
        "consumer0": "t1-0, t1-1, t1-2, t1-3, t1-4",
        "consumer1": "t1-5, t2-0, t2-1, t2-2, t2-3",
        "consumer2": "t2-4, t2-5, t2-6, t3-0, t3-1",
    }
    subs = {m: S(t, tuple(tps(owned[m]))) for m, t in topics.items()}
    intermediate = cooperative_sticky_assign(subs, ppt)
    assert intermediate == expect(
        consumer0="t1-2, t1-3, t1-4", consumer1="t2-0, t2-1, t2-2, t2-3", consumer2="t3-0, t3-1"
    )
    subs = {m: S(t, tuple(intermediate[m])) for m, t in topics.items()}
    assert cooperative_sticky_assign(subs, ppt) == expect(
        consumer0="t1-2, t1-3, t1-4, t2-4, t2-5",
        consumer1="t2-0, t2-1, t2-2, t2-3, t2-6",
        consumer2="t1-0, t1-1, t1-5, t3-0, t3-1",
    )


# -- sticky: StickyAssignorTest / CooperativeStickyAssignorTest -----------------------------------


@pytest.mark.parametrize("partitions, eager, cooperative", [
    # ...InSameGenerationWithEqualPartitionsPerConsumer
    (3, {"consumer1": "topic-1", "consumer2": "topic-2", "consumer3": "topic-0"},
        {"consumer1": "topic-1", "consumer2": "topic-2", "consumer3": ""}),
    # ...InSameGenerationWithUnequalPartitionsPerConsumer
    (4, {"consumer1": "topic-1 topic-3", "consumer2": "topic-2", "consumer3": "topic-0"},
        {"consumer1": "topic-1 topic-3", "consumer2": "topic-2", "consumer3": ""}),
])  # fmt: skip
def test_partition_claimed_twice_in_same_generation(partitions, eager, cooperative):
    # StickyAssignorTest and CooperativeStickyAssignorTest
    # .testAllConsumersHaveOwnedPartitionInvalidatedWhenClaimedByMultipleConsumersInSameGeneration*,
    # and AbstractStickyAssignorTest.testPartitionsTransferringOwnershipIncludeThePartition...:
    # neither claim on topic-0 counts, and the cooperative assignor must not hand it out yet.
    subs = {
        "consumer1": S(("topic",), tuple(tps("topic-0 topic-1")), 1),
        "consumer2": S(("topic",), tuple(tps("topic-0 topic-2")), 1),
        "consumer3": S(("topic",), (), 1),
    }
    ppt = {"topic": partitions}
    assert sticky_assign(subs, ppt) == expect(**eager)
    assert cooperative_sticky_assign(subs, ppt) == expect(**cooperative)
    assert settle(cooperative_sticky_assign, subs, ppt) == expect(**eager)


@pytest.mark.parametrize("all_equal", [True, False], ids=["equal", "not-equal"])
def test_sticky_assignment_with_multiple_generations_1(all_equal):
    # StickyAssignorTest.testAssignmentWithMultipleGenerations1
    every = ("topic", "topic2")
    topics2 = every if all_equal else ("topic",)
    ppt = {"topic": 6, "topic2": 6}
    r1 = sticky_assign({"consumer1": S(every), "consumer2": S(topics2), "consumer3": S(every)}, ppt)
    assert [len(r1[m]) for m in sorted(r1)] == [4, 4, 4]

    subs = {
        "consumer1": S(every, tuple(r1["consumer1"]), 1),
        "consumer2": S(topics2, tuple(r1["consumer2"]), 1),
    }
    r2 = valid(subs, ppt, sticky_assign(subs, ppt))
    assert len(r2["consumer1"]) == len(r2["consumer2"]) == 6
    if all_equal:
        assert set(r1["consumer1"]) <= set(r2["consumer1"])
    assert set(r1["consumer2"]) <= set(r2["consumer2"])
    assert set(r2["consumer2"]) & set(r1["consumer3"])

    # consumer3 comes back claiming its generation-1 partitions, which consumer2 got in 2.
    subs = {
        "consumer2": S(topics2, tuple(r2["consumer2"]), 2),
        "consumer3": S(every, tuple(r1["consumer3"]), 1),
    }
    r3 = valid(subs, ppt, sticky_assign(subs, ppt))
    assert len(r3["consumer2"]) == len(r3["consumer3"]) == 6


@pytest.mark.parametrize("all_equal", [True, False], ids=["equal", "not-equal"])
def test_sticky_assignment_with_multiple_generations_2(all_equal):
    # StickyAssignorTest.testAssignmentWithMultipleGenerations2
    every = ("topic", "topic2", "topic3")
    topics1 = every if all_equal else ("topic",)
    topics3 = every if all_equal else ("topic", "topic2")
    ppt = {"topic": 4, "topic2": 4, "topic3": 4}
    fresh = {"consumer1": S(topics1), "consumer2": S(every), "consumer3": S(topics3)}
    r1 = sticky_assign(fresh, ppt)
    assert [len(r1[m]) for m in sorted(r1)] == [4, 4, 4]

    r2 = sticky_assign({"consumer2": S(every, tuple(r1["consumer2"]), 1)}, ppt)
    assert len(r2["consumer2"]) == 12 and set(r1["consumer2"]) <= set(r2["consumer2"])

    subs = {
        "consumer1": S(topics1, tuple(r1["consumer1"]), 1),
        "consumer2": S(every, tuple(r2["consumer2"]), 2),
        "consumer3": S(topics3, tuple(r1["consumer3"]), 1),
    }
    r3 = valid(subs, ppt, sticky_assign(subs, ppt))
    assert [len(r3[m]) for m in sorted(r3)] == [4, 4, 4]


@pytest.mark.parametrize("all_equal", [True, False], ids=["equal", "not-equal"])
def test_sticky_assignment_with_conflicting_previous_generations(all_equal):
    # StickyAssignorTest.testAssignmentWithConflictingPreviousGenerations
    every = ("topic", "topic2", "topic3")
    topics1 = every if all_equal else ("topic",)
    topics2 = every if all_equal else ("topic", "topic2")
    ppt = {"topic": 4, "topic2": 4, "topic3": 4}
    if all_equal:
        c1 = tps("topic-0 topic-1 topic-2 topic2-2 topic2-3 topic3-0")
    else:
        c1 = tps("topic-0 topic-1 topic-2 topic-3")
    c2 = tps("topic-0 topic-1 topic2-0 topic2-1 topic2-2 topic2-3")
    c3 = tps("topic-2 topic-3 topic3-0 topic3-1 topic3-2 topic3-3")
    subs = {
        "consumer1": S(topics1, tuple(c1), 1),
        "consumer2": S(topics2, tuple(c2), 2),
        "consumer3": S(every, tuple(c3), 2),
    }
    result = valid(subs, ppt, sticky_assign(subs, ppt))
    assert [len(result[m]) for m in sorted(result)] == [4, 4, 4]
    assert set(result["consumer2"]) <= set(c2)
    assert set(result["consumer3"]) <= set(c3)


def test_sticky_schema_backward_compatibility():
    # StickyAssignorTest.testSchemaBackwardCompatibility: consumer2 sends the old user data
    # format without a generation.
    subs = {
        "consumer1": S(("topic",), tuple(tps("topic-0 topic-2")), 1),
        "consumer2": S(("topic",), tuple(tps("topic-1"))),
        "consumer3": S(("topic",)),
    }
    result = valid(subs, {"topic": 3}, sticky_assign(subs, {"topic": 3}))
    assert all(len(p) == 1 for p in result.values())
    assert set(result["consumer1"]) <= {("topic", 0), ("topic", 2)}
    assert result["consumer2"] == [("topic", 1)]


def test_cooperative_with_old_version_subscriptions():
    # CooperativeStickyAssignorTest.testAssignorWithOldVersionSubscriptions: owned partitions
    # without a generation still count.
    subs = {
        "consumer1": S(("topic1",), (("topic1", 0),)),
        "consumer2": S(("topic1",), (("topic1", 1),)),
        "consumer3": S(("topic1",), (), 1),
    }
    result = cooperative_sticky_assign(subs, {"topic1": 3})
    assert result == expect(consumer1="topic1-0", consumer2="topic1-1", consumer3="topic1-2")


def test_cooperative_general_path_withholds_moving_partitions():
    # Different subscriptions take Kafka's general path, where the cooperative assignor works out
    # the moving partitions by comparing owned with assigned
    # (CooperativeStickyAssignor.computePartitionsTransferringOwnership).
    ppt = {"a": 4, "b": 2}
    subs = {"x": S(("a", "b"), tuple(tps("a-0 a-1 a-2 a-3 b-0 b-1")), 1), "y": S(("a",), (), 1)}
    eager = sticky_assign(subs, ppt)
    # The search walks partitions of `a` in order and moves each while x has 2+ more than y.
    assert eager == expect(x="a-3 b-0 b-1", y="a-0 a-1 a-2")
    assert cooperative_sticky_assign(subs, ppt) == expect(x="a-3 b-0 b-1", y="")
    assert settle(cooperative_sticky_assign, subs, ppt) == eager


# -- deliberate departures from the Java code -----------------------------------------------------


def test_member_without_topics_never_gets_partitions():
    # Kafka starts its "all subscriptions equal" check at the first non-empty subscription, so a
    # leading member with no topics is given partitions of a topic it never subscribed to.
    subs = {"a": S(()), "b": S(("t0",))}
    for assign in STICKY:
        assert assign(subs, {"t0": 4}) == expect(a="", b="t0-0 t0-1 t0-2 t0-3")


def test_previous_owner_that_left_the_topic_is_not_sent_partitions_back():
    # Kafka would try to give T-0 back to P, its generation-1 owner, although P now only wants
    # U, and fails with NullPointerException. Ignoring that hint, the search balances A and B.
    subs = {
        "A": S(("T",), tuple(tps("T-0 T-1 T-2 T-3")), 2),
        "B": S(("T",), (), 2),
        "P": S(("U",), tuple(tps("T-0")), 1),
    }
    ppt = {"T": 4, "U": 1}
    assert sticky_assign(subs, ppt) == expect(A="T-2 T-3", B="T-0 T-1", P="U-0")
    assert cooperative_sticky_assign(subs, ppt) == expect(A="T-2 T-3", B="", P="U-0")


def test_claims_beyond_the_partition_count_and_repeats_are_ignored():
    subs = {"a": S(("t",), (("t", 7), ("t", 1), ("t", 1)), 1), "b": S(("t",), (), 1)}
    assert sticky_assign(subs, {"t": 2}) == expect(a="t-1", b="t-0")


# -- check_assignment and is_balanced -------------------------------------------------------------


def test_check_assignment_reports_each_kind_of_violation():
    subs = {"a": S(("t",)), "b": S(("t", "u"))}
    ppt = {"t": 2, "u": 1, "other": 1}
    assert check_assignment(subs, ppt, {"a": [("t", 0)], "b": [("t", 1), ("u", 0)]}) == []
    problems = check_assignment(
        subs,
        ppt,
        {"a": [("t", 0), ("u", 0), ("t", 5), ("gone", 0)], "ghost": [("t", 1)]},
    )
    text = "\n".join(problems)
    assert "'ghost' is not a member" in text
    assert "member 'b' is missing" in text
    assert "does not subscribe to 'u'" in text
    assert "t-5, which does not exist" in text
    assert "gone-0, which does not exist" in text
    assert len(problems) == 5  # t-1 went to 'ghost', so it is not reported as unassigned too
    twice = check_assignment(subs, ppt, {"a": [("t", 0), ("t", 1)], "b": [("t", 1), ("u", 0)]})
    assert twice == ["t-1 is given more than once: ['a', 'b']"]
    missing = {"a": [("t", 0)], "b": [("u", 0)]}
    assert check_assignment(subs, ppt, missing) == ["t-1 is not given to anyone"]
    assert check_assignment(subs, ppt, missing, withheld=[("t", 1)]) == []


def test_is_balanced_follows_kafka():
    subs = {"a": S(("t",)), "b": S(("t", "u"))}
    ppt = {"t": 1, "u": 3}
    # b has three more, but none of them is something a may take: balanced in Kafka's sense.
    assert is_balanced(subs, ppt, {"a": [("t", 0)], "b": [("u", 0), ("u", 1), ("u", 2)]})
    assert is_balanced(subs, ppt, {"a": [], "b": [("t", 0), ("u", 0), ("u", 1), ("u", 2)]}) is False
    even = {"a": S(("t",)), "b": S(("t",))}
    assert is_balanced(even, {"t": 3}, {"a": [("t", 0)], "b": [("t", 1), ("t", 2)]})
    assert not is_balanced(even, {"t": 3}, {"a": [], "b": [("t", 0), ("t", 1), ("t", 2)]})


# -- properties -----------------------------------------------------------------------------------

TOPICS = ["a", "b", "c", "d"]
MEMBERS = ["m0", "m1", "m2", "m3", "m4", "m5", "m10"]
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


@st.composite
def groups(draw, same_topics=False, consistent=False):
    """(subscriptions, partitions_per_topic) with claims that may be stale, bogus or conflicting.

    `consistent` makes the claims what a healthy group would send: disjoint, one generation.
    """
    counts = draw(st.dictionaries(st.sampled_from(TOPICS), st.integers(0, 7), max_size=4))
    members = draw(st.lists(st.sampled_from(MEMBERS), min_size=1, max_size=6, unique=True))
    topic_lists = st.lists(st.sampled_from(TOPICS + ["missing"]), max_size=4, unique=True)
    shared = draw(topic_lists)
    existing = [(t, p) for t in sorted(counts) for p in range(counts[t])]
    claimable = st.sampled_from(existing + [("a", 9), ("missing", 0)])
    subs = {}
    if consistent:
        owners = st.sampled_from(members + [None])
        owner = draw(st.lists(owners, min_size=len(existing), max_size=len(existing)))
        for member in members:
            owned = tuple(tp for tp, o in zip(existing, owner, strict=True) if o == member)
            subs[member] = S(tuple(shared) if same_topics else tuple(draw(topic_lists)), owned, 3)
        return subs, counts
    for member in members:
        topics = shared if same_topics else draw(topic_lists)
        owned = draw(st.lists(claimable, max_size=6))
        generation = draw(st.sampled_from([-1, 0, 1, 2, 2]))
        subs[member] = S(tuple(topics), tuple(owned), generation)
    return subs, counts


@PROPERTY_SETTINGS
@given(groups(), st.sampled_from(sorted(ASSIGNORS)))
def test_property_every_result_is_valid(group, name):
    subs, ppt = group
    result = ASSIGNORS[name](subs, ppt)
    assert list(result) == sorted(subs)
    assert all(partitions == sorted(partitions) for partitions in result.values())
    # A cooperative round may only leave out partitions somebody has to give up first.
    withheld = revoked(subs, result) if PROTOCOL[name] == "cooperative" else ()
    assert check_assignment(subs, ppt, result, withheld=withheld) == []


@PROPERTY_SETTINGS
@given(groups(same_topics=True), st.sampled_from(STICKY_IDS))
def test_property_sticky_balanced_with_identical_subscriptions(group, name):
    subs, ppt = group
    result = settle(ASSIGNORS[name], subs, ppt)
    assert check_assignment(subs, ppt, result) == []
    assert is_balanced(subs, ppt, result)
    counts = [len(partitions) for partitions in result.values()]
    assert max(counts) - min(counts) <= 1


@PROPERTY_SETTINGS
@given(groups(same_topics=True, consistent=True))
def test_property_identical_subscriptions_keep_a_fair_share_of_owned(group):
    # The constrained algorithm lets everyone keep what it owns up to the minimum quota.
    subs, ppt = group
    result = sticky_assign(subs, ppt)
    live = {t: n for t, n in ppt.items() if n and t in next(iter(subs.values())).topics}
    min_quota = sum(live.values()) // len(subs)
    for member, sub in subs.items():
        owned = [tp for tp in sub.owned if tp[0] in live]
        assert len(set(owned) & set(result[member])) >= min(len(owned), min_quota)


@PROPERTY_SETTINGS
@given(groups())
def test_property_eager_sticky_balanced_for_any_subscriptions(group):
    subs, ppt = group
    assert is_balanced(subs, ppt, sticky_assign(subs, ppt))


@PROPERTY_SETTINGS
@given(groups(), st.sampled_from(sorted(ASSIGNORS)), st.randoms(use_true_random=False))
def test_property_input_order_does_not_matter(group, name, rnd):
    subs, ppt = group
    expected = ASSIGNORS[name](subs, ppt)

    def shuffled(items):
        items = list(items)
        rnd.shuffle(items)
        return items

    reordered_subs = {
        member: S(tuple(shuffled(sub.topics)), tuple(shuffled(sub.owned)), sub.generation)
        for member, sub in shuffled(subs.items())
    }
    reordered_ppt = dict(shuffled(ppt.items()))
    assert ASSIGNORS[name](reordered_subs, reordered_ppt) == expected


@PROPERTY_SETTINGS
@given(groups(consistent=True))
def test_property_cooperative_never_hands_over_an_owned_partition(group):
    subs, ppt = group
    result = cooperative_sticky_assign(subs, ppt)
    owner = {tp: member for member, sub in subs.items() for tp in sub.owned}
    for member, partitions in result.items():
        for tp in partitions:
            assert owner.get(tp, member) == member
    # What it does hand out is exactly the eager assignment minus the partitions in flight.
    eager = sticky_assign(subs, ppt)
    for member in result:
        assert set(result[member]) <= set(eager[member])
        assert set(eager[member]) - set(result[member]) <= set(owner) - set(subs[member].owned)


@PROPERTY_SETTINGS
@given(groups())
def test_property_cooperative_settles_into_a_valid_balanced_assignment(group):
    subs, ppt = group
    result = settle(cooperative_sticky_assign, subs, ppt)
    assert check_assignment(subs, ppt, result) == []
    assert is_balanced(subs, ppt, result)


def test_same_result_whatever_the_hash_seed():
    # Runs the module in fresh interpreters with different PYTHONHASHSEEDs.
    import os
    import subprocess
    import sys

    program = (
        "import random\n"
        "from broker_core.assignors import ASSIGNORS, Subscription as S\n"
        "rng = random.Random(42)\n"
        "out = []\n"
        "for _ in range(40):\n"
        "    ppt = {f't{i}': rng.randint(0, 6) for i in range(rng.randint(1, 4))}\n"
        "    subs = {f'c{j}': S(tuple(rng.sample(sorted(ppt), rng.randint(1, len(ppt)))),\n"
        "        tuple(rng.sample([(t, p) for t in ppt for p in range(ppt[t])],\n"
        "        min(3, sum(ppt.values())))), rng.choice([-1, 1, 2])) for j in range(5)}\n"
        "    out.append([fn(subs, ppt) for fn in ASSIGNORS.values()])\n"
        "print(repr(out))\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        run = subprocess.run(
            [sys.executable, "-c", program], cwd=root, env=env, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        outputs.add(run.stdout)
    assert len(outputs) == 1


def test_deterministic_random_scenarios_are_valid():
    # A seeded multi-round soak in the spirit of Kafka's
    # testReassignmentWithRandomSubscriptionsAndChanges: random subscriptions, then new random
    # subscriptions with the previous result as owned partitions.
    rng = random.Random(2024)

    def random_subs(ppt, names, previous):
        return {
            m: S(
                tuple(sorted(rng.sample(sorted(ppt), rng.randint(1, len(ppt))))),
                tuple(previous.get(m, ())),
                1,
            )
            for m in names
        }

    for _ in range(30):
        ppt = {_name_with_width("t", i, 20): i + 1 for i in range(rng.randint(3, 8))}
        names = [_name_with_width("c", i, 40) for i in range(rng.randint(3, 10))]
        for assign in STICKY:
            subs = random_subs(ppt, names, {})
            first = valid(subs, ppt, settle(assign, subs, ppt))
            assert is_balanced(subs, ppt, first)
            subs = random_subs(ppt, names, first)
            second = valid(subs, ppt, settle(assign, subs, ppt))
            assert is_balanced(subs, ppt, second)
