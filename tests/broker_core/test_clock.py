"""The virtual clock: order, ties, cancellation, and idle time for free."""

import pytest

from broker_core import Cluster, CommandError
from broker_core.clock import Clock


def test_actions_run_in_time_order_and_ties_in_scheduling_order():
    clock = Clock()
    seen = []
    clock.at(20, seen.append, "b")
    clock.at(10, seen.append, "a")
    clock.at(20, seen.append, "c")
    clock.at(20, lambda _: clock.at(20, seen.append, "d"))  # same instant, scheduled later
    clock.run_until(19)
    assert seen == ["a"] and clock.now_ms == 19
    clock.run_until(20)
    assert seen == ["a", "b", "c", "d"]


def test_cancelled_actions_never_run():
    clock = Clock()
    seen = []
    timer = clock.at(5, seen.append, "x")
    timer.cancel()
    clock.run_until(10)
    assert seen == [] and clock.next_due() is None


def test_a_quiet_day_costs_nothing():
    cluster = Cluster(seed=1, brokers=3)
    cluster.apply({"type": "topic.create", "name": "t", "partitions": 3})
    before = cluster.clock.actions_run
    cluster.advance(86_400_000)
    assert cluster.clock.actions_run == before
    assert cluster.now_ms == 86_400_000
    assert cluster.next_due_ms() is None


def test_a_retained_record_costs_two_retention_passes_a_week_not_a_tick_every_5_minutes():
    cluster = Cluster(seed=1, brokers=1)
    cluster.apply({"type": "topic.create", "name": "t"})
    cluster.apply({"type": "produce", "topic": "t", "value": "v"})
    before = cluster.clock.actions_run
    events = cluster.advance(8 * 86_400_000)
    assert cluster.clock.actions_run - before == 1  # the pass that expires it, nothing else
    assert [e["type"] for e in events] == ["record.expired"]


def test_a_stable_idle_group_schedules_nothing():
    # Heartbeats are arithmetic, not clock actions, so an idle group costs nothing either.
    cluster = Cluster(seed=1, brokers=3)
    cluster.apply({"type": "topic.create", "name": "t", "partitions": 3})
    cluster.apply({"type": "consumer.add", "group": "g", "topics": ["t"]})
    cluster.advance(10_000)
    assert cluster.snapshot()["groups"]["g"]["state"] == "Stable"
    assert cluster.next_due_ms() is None


def test_advance_refuses_negative_or_fractional_time():
    cluster = Cluster(seed=1, brokers=1)
    for bad in (-1, 1.5, "10", True):
        with pytest.raises(CommandError) as info:
            cluster.advance(bad)
        assert info.value.field == "ms"


def test_step_runs_to_the_next_instant_with_something_due():
    cluster = Cluster(seed=1, brokers=1)
    cluster.apply({"type": "topic.create", "name": "t"})
    cluster.apply({"type": "consumer.add", "group": "g", "topics": ["t"]})
    events = cluster.step()
    assert cluster.now_ms == 3_000  # group.initial.rebalance.delay.ms
    assert any(e["type"] == "group.rebalance_completed" for e in events)


def test_a_bounded_run_stops_only_between_instants():
    clock = Clock()
    ran = []
    for due in (5, 5, 5, 9, 12):
        clock.at(due, ran.append, due)
    # Asked to stop after every action, it still finishes instant 5 before returning.
    reached = clock.run_until(100, stop=lambda: True)
    assert (reached, clock.now_ms, ran) == (False, 5, [5, 5, 5])
    assert clock.run_until(100, stop=lambda: len(ran) >= 4) is False and clock.now_ms == 9
    assert clock.run_until(100, stop=lambda: False) is True and clock.now_ms == 100
    assert ran == [5, 5, 5, 9, 12]


def test_a_cancelled_timer_at_the_same_instant_does_not_hide_its_end_from_a_bound():
    clock = Clock()
    ran = []
    clock.at(5, ran.append, "live")
    clock.at(5, ran.append, "cancelled").cancel()
    clock.at(50, ran.append, "later")
    assert clock.run_until(100, stop=lambda: True) is False
    assert clock.now_ms == 5 and ran == ["live"]
