"""Invariants 1, 2 and 5 of DESIGN.md under random command sequences (Hypothesis).

Every step applies a command (or lets virtual time pass) and then checks:
- invariant 1, on the event stream: offsets dense per partition, each group reading a
  partition in order (broker_core.checkers.EventChecker);
- invariant 2, on the snapshot: a Stable group has exactly one owner per subscribed partition;
  after `settle` (longer than any session timeout) every owner is alive;
- a refused command changes nothing and emits nothing.
At the end, invariant 5: replaying the command log gives the same events, byte for byte.
"""

import json
from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from broker_core import Cluster, CommandError
from broker_core.checkers import EventChecker, check_ownership, digest, replay

TOPICS = ("orders", "payments", "signup")
GROUPS = ("inventory", "invoice")
CONSUMERS = ("c1", "c2", "c3", "c4")
ACCEPTED: Counter = Counter()  # command types the runs got past validation, to prove coverage
KEYS = st.one_of(st.none(), st.sampled_from([f"order-{i}" for i in range(12)]))


class ClusterMachine(RuleBasedStateMachine):
    @initialize(seed=st.integers(0, 2**32), brokers=st.integers(1, 3))
    def start(self, seed, brokers):
        self.seed, self.brokers = seed, brokers
        self.cluster = Cluster(seed=seed, brokers=brokers)
        self.checker = EventChecker()
        self.events = []
        self.take(self.cluster.advance(0))
        # Start from a topic with a group on it, so short runs already exercise consumption.
        self.send({"type": "topic.create", "name": "orders", "partitions": 3})
        self.send({"type": "consumer.add", "group": "inventory", "id": "c1",
                   "topics": ["orders"], "processing_ms": 10})

    def take(self, events):
        self.checker.feed(events)
        self.events += events

    def send(self, command):
        before = json.dumps(self.cluster.snapshot(), sort_keys=True)
        seq = self.cluster.seq
        try:
            self.take(self.cluster.apply(command))
            ACCEPTED[command["type"]] += 1
        except CommandError as error:
            assert error.field and error.message
            assert self.cluster.seq == seq, f"refused {command} but emitted events"
            assert json.dumps(self.cluster.snapshot(), sort_keys=True) == before, (
                f"refused {command} but changed the cluster")

    @rule(name=st.sampled_from(TOPICS), partitions=st.integers(1, 4),
          rf=st.integers(1, 3), retention_ms=st.sampled_from([None, 5_000, 600_000]))
    def create_topic(self, name, partitions, rf, retention_ms):
        config = {} if retention_ms is None else {"retention.ms": retention_ms}
        self.send({"type": "topic.create", "name": name, "partitions": partitions,
                   "replication_factor": rf, "config": config})

    @rule(name=st.sampled_from(TOPICS))
    def delete_topic(self, name):
        self.send({"type": "topic.delete", "name": name})

    @rule(name=st.sampled_from(TOPICS), partitions=st.integers(1, 6))
    def add_partitions(self, name, partitions):
        self.send({"type": "topic.add_partitions", "name": name, "partitions": partitions})

    @rule(name=st.sampled_from(TOPICS), retention_bytes=st.sampled_from([-1, 0, 50, 500]))
    def alter_retention(self, name, retention_bytes):
        self.send({"type": "topic.alter_config", "name": name,
                   "config": {"retention.bytes": retention_bytes}})

    @rule(topic=st.sampled_from(TOPICS), key=KEYS, acks=st.sampled_from(["0", "1", "all"]),
          count=st.integers(1, 5))
    def produce(self, topic, key, acks, count):
        for i in range(count):
            self.send({"type": "produce", "topic": topic, "key": key, "value": f"v{i}",
                       "acks": acks})

    @rule(pid=st.sampled_from(["p1", "p2"]), topic=st.sampled_from(TOPICS),
          rate=st.integers(1, 20), keys=st.sampled_from(["sequence", "null", "uniform"]))
    def add_producer(self, pid, topic, rate, keys):
        self.send({"type": "producer.add", "id": pid, "topic": topic, "rate_per_s": rate,
                   "keys": {"kind": keys}})

    @rule(pid=st.sampled_from(["p1", "p2"]))
    def remove_producer(self, pid):
        # One that is running when there is one, so removal is exercised; else refused.
        if pid not in self.cluster.producers and self.cluster.producers:
            pid = sorted(self.cluster.producers)[0]
        elif not self.cluster.producers and self.cluster.topics and pid == "p1":
            # Producers are rare in short runs; start one so its removal is exercised too.
            self.send({"type": "producer.add", "id": pid, "topic": sorted(self.cluster.topics)[0],
                       "rate_per_s": 1})
        self.send({"type": "producer.remove", "id": pid})

    @rule(group=st.sampled_from(GROUPS), consumer=st.sampled_from(CONSUMERS),
          topics=st.lists(st.sampled_from(TOPICS), min_size=1, max_size=2, unique=True),
          processing_ms=st.sampled_from([0, 10, 700]),
          commit=st.sampled_from(["after", "before", "auto"]))
    def add_consumer(self, group, consumer, topics, processing_ms, commit):
        self.send({"type": "consumer.add", "group": group, "id": consumer, "topics": topics,
                   "processing_ms": processing_ms, "commit": commit})

    def live_member(self, group, consumer, pick_live):
        """Mostly a member that is alive, so leaving and crashing are exercised; sometimes
        any name (refused when it is not in the group)."""
        consumers = self.cluster.snapshot()["groups"].get(group, {}).get("consumers", {})
        live = sorted(c for c, state in consumers.items() if state["status"] == "live")
        return live[CONSUMERS.index(consumer) % len(live)] if pick_live and live else consumer

    @rule(group=st.sampled_from(GROUPS), consumer=st.sampled_from(CONSUMERS),
          pick_live=st.booleans())
    def remove_consumer(self, group, consumer, pick_live):
        consumer = self.live_member(group, consumer, pick_live)
        self.send({"type": "consumer.remove", "group": group, "id": consumer})

    @rule(group=st.sampled_from(GROUPS), consumer=st.sampled_from(CONSUMERS),
          pick_live=st.booleans())
    def crash_consumer(self, group, consumer, pick_live):
        consumer = self.live_member(group, consumer, pick_live)
        self.send({"type": "consumer.crash", "group": group, "id": consumer})

    @rule(group=st.sampled_from(GROUPS),
          assignor=st.sampled_from(["range", "roundrobin", "sticky", "cooperative-sticky"]),
          session_timeout_ms=st.sampled_from([6_000, 10_000, 45_000]))
    def configure_group(self, group, assignor, session_timeout_ms):
        self.send({"type": "group.configure", "group": group, "assignor": assignor,
                   "session_timeout_ms": session_timeout_ms})

    @rule(group=st.sampled_from(GROUPS), topic=st.sampled_from(TOPICS),
          to=st.one_of(st.sampled_from(["earliest", "latest"]), st.integers(0, 20)))
    def reset_offsets(self, group, topic, to):
        # As an operator does it: stop the group's consumers first (only an Empty group may
        # be reset), then move its offsets.
        consumers = self.cluster.snapshot()["groups"].get(group, {}).get("consumers", {})
        for consumer, state in consumers.items():
            if state["status"] == "live":
                self.send({"type": "consumer.remove", "group": group, "id": consumer})
        if any(state["status"] == "crashed" for state in consumers.values()):
            self.take(self.cluster.advance(60_000))  # crashed ones leave when their session ends
        self.send({"type": "group.reset_offsets", "group": group, "topic": topic, "to": to})

    @rule(broker=st.integers(1, 3), mode=st.sampled_from(["clean", "crash"]))
    def stop_broker(self, broker, mode):
        self.send({"type": "broker.stop", "broker": broker, "mode": mode})

    @rule(broker=st.integers(1, 3), pick_stopped=st.booleans())
    def start_broker(self, broker, pick_stopped):
        stopped = [b for b, info in sorted(self.cluster.brokers.items()) if not info["up"]]
        if pick_stopped:  # mostly a stopped one, so starting is exercised
            if not stopped:
                # A restart: Hypothesis enables a random subset of rules per run (swarm
                # testing), so a start must not depend on stop_broker having run before it.
                self.send({"type": "broker.stop", "broker": broker, "mode": "clean"})
                stopped = [broker]
            broker = stopped[0]
        self.send({"type": "broker.start", "broker": broker})

    @rule(broker=st.integers(1, 3), delay=st.sampled_from([0, 700, 40_000]))
    def slow_broker(self, broker, delay):
        self.send({"type": "broker.configure", "broker": broker,
                   "replica_fetch_delay_ms": delay})

    @rule(group=st.sampled_from(GROUPS))
    def delete_group(self, group):
        self.send({"type": "group.delete", "group": group})

    @rule(ms=st.sampled_from([0, 1, 499, 500, 3_000, 10_000, 30_000]))
    def advance(self, ms):
        self.take(self.cluster.advance(ms))

    @rule()
    def settle(self):
        """Long enough for every crash to be noticed and every rebalance to finish."""
        self.take(self.cluster.advance(120_000))
        snapshot = self.cluster.snapshot()
        for gid, group in snapshot["groups"].items():
            assert group["state"] in ("Stable", "Empty"), (gid, group["state"])
        assert check_ownership(snapshot, require_live=True) == []

    @invariant()
    def stable_groups_have_one_owner_per_partition(self):
        if hasattr(self, "cluster"):
            assert check_ownership(self.cluster.snapshot()) == []

    def teardown(self):
        if not hasattr(self, "cluster"):
            return
        self.take(self.cluster.advance(0))  # what is due at this instant, as replay will run
        _, replayed = replay(self.seed, self.brokers, self.cluster.command_log,
                             until_ms=self.cluster.now_ms)
        assert digest(replayed) == digest(self.events), f"replay differs (seed {self.seed})"


def test_invariants_hold_under_random_command_sequences():
    ACCEPTED.clear()
    run_state_machine_as_test(ClusterMachine, settings=settings(
        max_examples=150, stateful_step_count=40, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    # A validator refusing everything would make every run vacuous: each command type must
    # have been carried out (typically dozens of times; the floor is kept low so that the
    # random mix never makes this flaky).
    kinds = ("topic.create", "topic.delete", "topic.add_partitions", "topic.alter_config",
             "produce", "producer.add", "producer.remove", "consumer.add", "consumer.remove",
             "consumer.crash", "group.configure", "group.reset_offsets", "group.delete",
             "broker.stop", "broker.start", "broker.configure")
    assert {kind: ACCEPTED[kind] for kind in kinds if ACCEPTED[kind] < 1} == {}, ACCEPTED
