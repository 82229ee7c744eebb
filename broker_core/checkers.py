"""Reusable checkers for the model's invariants (DESIGN.md, "Invariants").

They read only what any observer can see, the event stream and snapshots, so the same checks
serve unit tests, Hypothesis runs, seeded soak runs and, later, replays of shared sessions.

1. `EventChecker`: within a partition offsets are dense, and each group sees a partition's
   records in order. Precisely: produced offsets go 0, 1, 2, ... per partition; only the
   partition's current owner in a group is delivered its records; within one ownership (from
   `partition.assigned` to `partition.revoked`) deliveries go up by exactly one, except where an
   `offset.reset` moves the position. A new owner starts wherever the group's committed offset
   says, which may repeat records (at-least-once), never skip them silently. A leader change
   restarts the offsets at the new leader's log end.
2. `check_ownership`: in a Stable group every subscribed partition has exactly one owner, the
   owner subscribes to its topic, and (with ``require_live``) the owner has not crashed.
3. Lives in `faults.py`: `AckedRecordChecker`, every acknowledged record consumed or announced
   lost, over seeded fault schedules.
4. `DeliveryChecker` (below): every record processed, dead-lettered or announced gone, for
   every group, through retries, retry topics and timeouts.
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


# -- invariant 4: every record ends somewhere -----------------------------------------------------

class DeliveryChecker(EventChecker):
    """Invariant 1 with the delivery policy's retries, plus what invariant 4 needs.

    Invariant 1 as `EventChecker` checks it, except that a blocking retry delivers the record
    the consumer already holds again (``attempt`` > 1, same offset); any other delivery with
    ``attempt`` > 1 must come from a retry topic.

    Invariant 4 (DESIGN.md): every produced record is, for every subscribed group, eventually
    processed, dead-lettered (``record.dead_lettered``), or expired by retention and announced
    (``record.expired``) once the group has live consumers. A record forwarded to a retry topic
    counts as handed on only when its copy in the retry topic itself ends one of those ways
    (followed from ``record.retry_scheduled``'s ``retry_topic``/``retry_partition``/
    ``retry_offset``), whether or not the group still subscribes to that retry topic. Feed the
    whole run, let enough virtual time pass for every back-off and timeout, then call
    `unresolved(snapshot)`. What the checker forgives, and why: records before where a group
    started reading (``auto_offset_reset=latest``, an operator's ``group.reset_offsets``, an
    announced ``offset.reset``), records announced lost (``record.lost``, invariant 3's
    business), and groups with a ``commit="before"`` member,
    which chose at-most-once delivery.
    """

    def __init__(self) -> None:
        super().__init__()
        self.outcome: dict[tuple, str] = {}       # (group, topic, partition, offset) -> how
        self.start: dict[tuple, int] = {}         # (group, topic, partition) -> first offset
        self.expired: dict[tuple, int] = {}       # (topic, partition) -> announced log start
        self.lost: set[tuple] = set()             # (topic, partition, offset)
        self.at_most_once: set[str] = set()       # groups with a commit="before" member
        # (group, topic, partition, offset) -> its copy in a retry topic, same key shape; None
        # once the retry topic was deleted or the copy's send announced failed.
        self.forwarded: dict[tuple, tuple | None] = {}

    def check(self, e: dict) -> None:
        kind = e["type"]
        if kind == "record.delivered" and e["attempt"] > 1:
            hand = self.in_hand.get((e["group"], e["consumer"]))
            record = (e["topic"], e["partition"], e["offset"])
            if hand == record:
                # A blocking retry: the record in hand once more, not the next offset.
                self.expect[(e["group"], e["consumer"], e["topic"], e["partition"])] = e["offset"]
            elif not _is_retry_topic(e["topic"]):
                self.fail(e, f"attempt {e['attempt']} of {record}, which "
                             f"{e['consumer']} does not hold (it holds {hand})")
        super().check(e)
        group = e.get("group")
        if kind == "record.delivered":
            self.start.setdefault((group, e["topic"], e["partition"]), e["offset"])
        elif kind == "offset.committed":
            key = (group, e["topic"], e["partition"])
            self.start.setdefault(key, e["offset"])
            if str(e.get("reason", "")).startswith("reset to"):
                self.start[key] = e["offset"]
        elif kind == "offset.reset":
            key = (group, e["topic"], e["partition"])
            self.start[key] = max(self.start.get(key, 0), e["offset"])
        elif kind == "record.processed":
            self.outcome[(group, e["topic"], e["partition"], e["offset"])] = "processed"
        elif kind in ("record.dead_lettered", "record.dropped"):
            # record.dropped: its dead-letter topic can never be created; an announced end.
            self.outcome[(group, e["topic"], e["partition"], e["offset"])] = (
                "dead-lettered" if kind == "record.dead_lettered" else "dropped")
            self.in_hand.pop((group, e["consumer"]), None)
        elif kind == "record.retry_scheduled" and e.get("retry_topic"):
            key = (group, e["topic"], e["partition"], e["offset"])
            self.outcome[key] = "retried"
            self.forwarded[key] = (group, e["retry_topic"], e["retry_partition"],
                                   e["retry_offset"])
            self.in_hand.pop((group, e["consumer"]), None)
        elif kind == "record.abandoned" or (kind == "record.failed" and e.get("revoked")):
            self.in_hand.pop((group, e["consumer"]), None)
        elif kind == "record.expired":
            self.expired[(e["topic"], e["partition"])] = e["log_start_offset"]
        elif kind == "partition.leader_elected" and "log_end_offset" in e:
            # Offsets from the new leader's log end on will be reused by other records.
            tp = (e["topic"], e["partition"])
            for key in [k for k in self.outcome if k[1:3] == tp and k[3] >= e["log_end_offset"]]:
                del self.outcome[key]
        elif kind == "record.lost":
            self.lost.add((e["topic"], e["partition"], e["offset"]))
            for key in [k for k in self.outcome if k[1:] == (e["topic"], e["partition"],
                                                              e["offset"])]:
                del self.outcome[key]
        elif kind == "group.member_joined" and e.get("commit") == "before":
            self.at_most_once.add(group)
        elif kind == "group.deleted":
            for table in (self.outcome, self.start):
                for key in [k for k in table if k[0] == group]:
                    del table[key]
            self.at_most_once.discard(group)
        elif kind == "topic.deleted":
            topic = e["topic"]
            for table, at in ((self.outcome, 1), (self.start, 1), (self.expired, 0),
                              (self.forwarded, 1)):
                for key in [k for k in table if k[at] == topic]:
                    del table[key]
            for key, copy in self.forwarded.items():
                if copy is not None and copy[1] == topic:
                    self.forwarded[key] = None
            self.lost = {k for k in self.lost if k[0] != topic}

    def unresolved(self, snapshot: dict, limit: int = 20) -> list[str]:
        """Invariant 4 at the end of a settled run: the records some live group has not
        finished with (empty when it holds)."""
        problems = []
        topics = snapshot["topics"]
        for gid, group in snapshot["groups"].items():
            live = [c for c in group["consumers"].values() if c["status"] == "live"]
            if not live or group["state"] != "Stable" or gid in self.at_most_once:
                continue
            earliest = group["config"]["auto_offset_reset"] == "earliest"
            for name in sorted({t for c in live for t in c["topics"]}):
                if name not in topics:
                    continue
                for p in topics[name]["partitions"]:
                    index = p["partition"]
                    start = self.start.get((gid, name, index), 0 if earliest else None)
                    if start is None:
                        continue  # latest, and nothing read yet: nothing it answers for
                    start = max(start, self.expired.get((name, index), 0))
                    for offset in range(start, p["high_watermark"]):
                        key = (gid, name, index, offset)
                        if key in self.outcome:
                            stuck = self._stranded_copy(key)
                            if stuck is not None:
                                problems.append(f"{gid}: {name}/{index} offset {offset} was "
                                                f"forwarded to {stuck[1]}/{stuck[2]} offset "
                                                f"{stuck[3]}, which was never processed, "
                                                "dead-lettered or announced expired")
                                if len(problems) >= limit:
                                    return problems
                            continue
                        if (name, index, offset) in self.lost:
                            continue
                        problems.append(f"{gid}: {name}/{index} offset {offset} was never "
                                        "processed, dead-lettered or announced expired")
                        if len(problems) >= limit:
                            return problems
        return problems


    def _stranded_copy(self, key: tuple) -> tuple | None:
        """Follow a record through the retry topics it was forwarded to; the copy that ended
        nowhere, or None when the chain ends processed, dead-lettered, expired or lost."""
        for _ in range(len(self.forwarded) + 1):
            if self.outcome.get(key) != "retried":
                return None
            copy = self.forwarded.get(key)
            if copy is None:
                return None  # its retry topic was deleted, or the copy announced never acked
            _, topic, partition, offset = copy
            if ((topic, partition, offset) in self.lost
                    or offset < self.expired.get((topic, partition), 0)):
                return None
            if copy not in self.outcome:
                return copy
            key = copy
        return None


def _is_retry_topic(name: str) -> bool:
    head, _, index = name.rpartition("-retry-")
    return bool(head) and index.isdigit()
