"""Reusable checkers for the model's invariants (DESIGN.md, "Invariants").

They read only what any observer can see, the event stream and snapshots, so the same checks
serve unit tests, Hypothesis runs, seeded soak runs and, later, replays of shared sessions.

1. `EventChecker`: within a partition offsets are dense, and each group sees a partition's
   records in order. Precisely: produced offsets go 0, 1, 2, ... per partition; only the
   partition's current owner in a group is delivered its records; within one ownership (from
   `partition.assigned` to `partition.revoked`) deliveries go up by exactly one, except where an
   `offset.reset` moves the position. A new owner starts wherever the group's committed offset
   says, which may repeat records (at-least-once), never skip them silently.
2. `check_ownership`: in a Stable group every subscribed partition has exactly one owner, the
   owner subscribes to its topic, and (with ``require_live``) the owner has not crashed.
5. `replay` and `digest`: the same seed, brokers and command log give the same event stream,
   byte for byte.
"""

import hashlib
import json

from .cluster import Cluster


class InvariantViolation(AssertionError):
    pass


class EventChecker:
    def __init__(self) -> None:
        self.last_seq = 0
        self.last_t_ms = 0
        self.next_offset: dict[tuple, int] = {}
        self.owner: dict[tuple, str] = {}          # (group, topic, partition) -> consumer
        self.expect: dict[tuple, int | None] = {}  # (group, consumer, topic, partition) -> offset
        self.committed: dict[tuple, int] = {}      # (group, topic, partition) -> offset
        self.in_hand: dict[tuple, tuple] = {}      # (group, consumer) -> (topic, partition, o)
        self.high_watermark: dict[tuple, int] = {}  # (topic, partition) -> offset
        self.log_start: dict[tuple, int] = {}       # (topic, partition) -> offset

    def fail(self, event: dict, why: str) -> None:
        raise InvariantViolation(f"{why} (event {json.dumps(event)})")

    def feed(self, events: list[dict]) -> None:
        for event in events:
            self.check(event)

    def check(self, e: dict) -> None:
        seq = e["seq"]
        if seq != self.last_seq + 1:
            self.fail(e, f"sequence jumped from {self.last_seq} to {seq}")
        if e["t_ms"] < self.last_t_ms:
            self.fail(e, f"time went back from {self.last_t_ms} to {e['t_ms']}")
        self.last_seq, self.last_t_ms = seq, e["t_ms"]
        kind = e["type"]
        if kind == "record.produced":
            tp = (e["topic"], e["partition"])
            expected = self.next_offset.get(tp, 0)
            if e["offset"] != expected:
                self.fail(e, f"offset {e['offset']} in {tp}, expected {expected}: not dense")
            self.next_offset[tp] = expected + 1
            self.high_watermark[tp] = e["high_watermark"]
        elif kind == "partition.leader_elected":
            # The next record goes at the new leader's log end. A shorter log cut records
            # away (their offsets are reused); a longer one kept uncommitted records that the
            # old leader had dropped (Kafka's leaders never truncate themselves).
            self.next_offset[(e["topic"], e["partition"])] = e["log_end_offset"]
        elif kind == "partition.high_watermark":
            self.high_watermark[(e["topic"], e["partition"])] = e["high_watermark"]
        elif kind == "record.expired":
            self.log_start[(e["topic"], e["partition"])] = e["log_start_offset"]
        elif kind == "partition.assigned":
            for topic, partition in e["partitions"]:
                key = (e["group"], topic, partition)
                if key in self.owner:
                    self.fail(e, f"{key} given to {e['consumer']} while "
                                 f"{self.owner[key]} still owns it")
                self.owner[key] = e["consumer"]
                # A member given back the partition of the record it is still processing
                # carries on after that record, or from the committed offset if that is
                # further on; with nothing committed, auto.offset.reset decides (unchecked).
                hand = self.in_hand.get((e["group"], e["consumer"]))
                committed = self.committed.get(key)
                after = None
                if hand and hand[:2] == (topic, partition) and committed is not None:
                    after = max(committed, hand[2] + 1)
                self.expect[(e["group"], e["consumer"], topic, partition)] = after
        elif kind == "partition.revoked":
            for topic, partition in e["partitions"]:
                key = (e["group"], topic, partition)
                if self.owner.get(key) != e["consumer"]:
                    self.fail(e, f"{e['consumer']} revoked {key} it does not own")
                del self.owner[key]
                self.expect.pop((e["group"], e["consumer"], topic, partition), None)
        elif kind == "record.delivered":
            key = (e["group"], e["topic"], e["partition"])
            if self.owner.get(key) != e["consumer"]:
                self.fail(e, f"{e['consumer']} was delivered a record of {key}, owned by "
                             f"{self.owner.get(key)}")
            tp = (e["topic"], e["partition"])
            hw = self.high_watermark.get(tp)
            if hw is not None and e["offset"] >= hw:
                self.fail(e, f"delivered offset {e['offset']} at or above the high watermark {hw}")
            stint = (e["group"], e["consumer"], e["topic"], e["partition"])
            expected = self.expect.get(stint)
            if expected is None:
                # A new owner starts at the committed offset; with none, anywhere the log still
                # holds (auto.offset.reset); a deleted committed offset comes with offset.reset.
                start = self.committed.get(key)
                if start is not None and e["offset"] != start:
                    self.fail(e, f"new owner started at {e['offset']}, not at the committed "
                                 f"offset {start}")
                if start is None and e["offset"] < self.log_start.get(tp, 0):
                    self.fail(e, f"new owner started at {e['offset']}, below the log start")
            elif e["offset"] != expected:
                self.fail(e, f"delivered offset {e['offset']}, expected {expected}: out of order")
            self.expect[stint] = e["offset"] + 1
            self.in_hand[(e["group"], e["consumer"])] = (e["topic"], e["partition"], e["offset"])
        elif kind == "record.processed":
            self.in_hand.pop((e["group"], e["consumer"]), None)
        elif kind in ("consumer.crashed", "group.member_left", "group.member_expired"):
            self.in_hand.pop((e["group"], e["consumer"]), None)
        elif kind == "offset.reset":
            self.expect[(e["group"], e["consumer"], e["topic"], e["partition"])] = e["offset"]
        elif kind == "offset.committed":
            self.committed[(e["group"], e["topic"], e["partition"])] = e["offset"]
        elif kind == "group.deleted":
            for table, at in ((self.owner, 0), (self.committed, 0), (self.expect, 0),
                              (self.in_hand, 0)):
                for key in [k for k in table if k[at] == e["group"]]:
                    del table[key]
        elif kind == "topic.deleted":
            topic = e["topic"]
            for table, at in ((self.next_offset, 0), (self.owner, 1), (self.committed, 1),
                              (self.expect, 2), (self.high_watermark, 0), (self.log_start, 0)):
                for key in [k for k in table if k[at] == topic]:
                    del table[key]


def check_ownership(snapshot: dict, require_live: bool = False) -> list[str]:
    """Invariant 2 over a snapshot; returns the violations (empty when it holds)."""
    problems = []
    topics = snapshot["topics"]
    for gid, group in snapshot["groups"].items():
        if group["state"] != "Stable":
            continue
        owners: dict[tuple, list[str]] = {}
        for mid, parts in group["members"].items():
            consumer = group["consumers"][mid]
            for topic, partition in parts:
                owners.setdefault((topic, partition), []).append(mid)
                if topic not in consumer["topics"]:
                    problems.append(f"{gid}: {mid} owns {topic}/{partition} without "
                                    "subscribing to it")
                if require_live and consumer["status"] != "live":
                    problems.append(f"{gid}: {topic}/{partition} is owned by {mid}, which is "
                                    f"{consumer['status']}")
        subscribed = sorted({t for c in group["consumers"].values() for t in c["topics"]})
        for topic in subscribed:
            if topic not in topics:
                continue
            for p in topics[topic]["partitions"]:
                who = owners.get((topic, p["partition"]), [])
                if len(who) != 1:
                    problems.append(f"{gid}: {topic}/{p['partition']} has owners {who}, "
                                    "expected exactly one")
    return problems


def digest(events: list[dict]) -> str:
    """A stable fingerprint of an event stream (its exact JSON, line by line)."""
    h = hashlib.sha256()
    for event in events:
        h.update(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def replay(seed, brokers: int, command_log: list[dict], until_ms: int | None = None,
           config: dict | None = None) -> tuple[Cluster, list[dict]]:
    """Rebuild a cluster from its command log (each entry ``{"at_ms", "command"}``)."""
    cluster = Cluster(seed=seed, brokers=brokers, config=config)
    events: list[dict] = []
    for entry in command_log:
        events += cluster.advance_to(entry["at_ms"])
        events += cluster.apply(entry["command"])
    if until_ms is not None:
        events += cluster.advance_to(max(until_ms, cluster.now_ms))
    return cluster, events
