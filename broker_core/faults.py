"""Kafka's replication test criterion over random fault schedules (DESIGN.md invariant 3).

Kafka's own system tests (``replication_test.py``) produce while brokers are stopped cleanly or
killed, then check that every acknowledged message was consumed. `run_schedule` does the same
to the model: a seeded schedule of broker stops (clean or crash) and starts while a producer
writes unique values, then every broker comes back, the producer stops, and a consumer group
reads to the end. `AckedRecordChecker` then says which acknowledged records were never
consumed, and which of those were announced by `record.lost`.

With acks=all, replication factor 3, min.insync.replicas 2 and unclean election off nothing
may be lost. With acks=1, or with unclean election, loss may happen, but never silently.
"""

import random
from dataclasses import dataclass, field

from .checkers import EventChecker
from .cluster import Cluster


class AckedRecordChecker:
    """Reads an event stream and tracks what was acknowledged, lost and consumed, by value.

    Values identify records because offsets do not: after a truncation a new record can take
    an offset a lost one had. The value at an offset is whatever was produced there last, so
    a consumption maps to the record that really was at that offset at that moment.
    """

    def __init__(self) -> None:
        self.value_at: dict[tuple, object] = {}
        self.acked: set = set()
        self.lost: set = set()
        self.consumed: dict[str, set] = {}

    def feed(self, events: list[dict]) -> None:
        value_at = self.value_at
        for e in events:
            kind = e["type"]
            if kind == "record.produced":
                value_at[(e["topic"], e["partition"], e["offset"])] = e["value"]
            elif kind == "record.acked":
                self.acked.add(value_at[(e["topic"], e["partition"], e["offset"])])
            elif kind == "record.lost":
                self.lost.add(e["value"])
            elif kind == "record.processed":
                value = value_at[(e["topic"], e["partition"], e["offset"])]
                self.consumed.setdefault(e["group"], set()).add(value)

    def unconsumed(self, group: str) -> set:
        """Acknowledged records the group never processed."""
        return self.acked - self.consumed.get(group, set())

    def silent_losses(self, group: str) -> set:
        """Acknowledged, never consumed, and never announced: always a bug."""
        return self.unconsumed(group) - self.lost


@dataclass
class ScheduleResult:
    seed: int
    schedule: list
    acked: int
    lost: set
    unconsumed: set
    silent: set
    events: int = 0
    notes: list = field(default_factory=list)


def random_schedule(rng: random.Random, brokers: int, duration_ms: int,
                    max_faults: int = 4) -> list[dict]:
    """Broker stops (clean or crash) and starts at random times within `duration_ms`;
    overlapping faults are allowed, so two brokers may be down at once."""
    timeline = []
    for _ in range(rng.randint(1, max_faults)):
        broker = rng.randint(1, brokers)
        stop = rng.randrange(1_000, duration_ms - 1_000)
        mode = rng.choice(("clean", "crash"))
        start = stop + rng.randrange(500, 60_000)
        timeline.append((stop, 0, broker, {"type": "broker.stop", "broker": broker,
                                           "mode": mode}))
        if start < duration_ms:
            timeline.append((start, 1, broker, {"type": "broker.start", "broker": broker}))
    timeline.sort(key=lambda t: (t[0], t[1], t[2]))
    return [{"at_ms": at, "command": command} for at, _, _, command in timeline]


def run_schedule(seed: int, acks: str = "all", replication_factor: int = 3,
                 min_insync: int = 2, unclean: bool = False, brokers: int = 3,
                 partitions: int = 3, duration_ms: int = 60_000, rate_per_s: float = 10,
                 settle_ms: int = 600_000) -> ScheduleResult:
    rng = random.Random(f"faults/{seed}")
    schedule = random_schedule(rng, brokers, duration_ms)
    cluster = Cluster(seed=seed, brokers=brokers)
    checker = AckedRecordChecker()
    order = EventChecker()  # invariant 1 holds through every failure too
    count = 0

    def feed(events):
        nonlocal count
        count += len(events)
        checker.feed(events)
        order.feed(events)

    feed(cluster.apply({"type": "topic.create", "name": "t", "partitions": partitions,
                        "replication_factor": replication_factor,
                        "config": {"min.insync.replicas": min_insync,
                                   "unclean.leader.election.enable": unclean}}))
    feed(cluster.apply({"type": "consumer.add", "group": "g", "id": "c", "topics": ["t"]}))
    feed(cluster.apply({"type": "producer.add", "id": "p", "topic": "t",
                        "rate_per_s": rate_per_s, "acks": acks, "value": "v{n}",
                        "keys": {"kind": "uniform", "count": 50}}))
    notes = []
    for entry in schedule:
        feed(cluster.advance_to(entry["at_ms"]))
        command = entry["command"]
        broker = cluster.brokers[command["broker"]]
        # A schedule may ask to stop a stopped broker or start a running one; skip those.
        if (command["type"] == "broker.stop") != broker["up"]:
            notes.append(f"skipped {command}")
            continue
        feed(cluster.apply(command))
    feed(cluster.advance_to(duration_ms))
    feed(cluster.apply({"type": "producer.remove", "id": "p"}))
    for b in sorted(cluster.brokers):
        if not cluster.brokers[b]["up"]:
            feed(cluster.apply({"type": "broker.start", "broker": b}))
    feed(cluster.advance(settle_ms))
    return ScheduleResult(seed=seed, schedule=schedule, acked=len(checker.acked),
                          lost=set(checker.lost), unconsumed=checker.unconsumed("g"),
                          silent=checker.silent_losses("g"), events=count, notes=notes)
