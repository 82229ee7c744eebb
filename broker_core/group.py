"""Consumer groups of modelled consumers: the driver of Kafka's classic group coordinator that
decides for its members, and the members that consume.

Theory of operation
-------------------
A `Group` has a coordinator core (coordinator.py: state, generation, leader, members, the join
timer) and an offsets store (offsets.py), as `classic.ClientGroup`, the group of real clients,
has its own; neither is the other. A group moves through five states, and only along the edges
in `TRANSITIONS` (the table from Kafka's ``ClassicGroupState``); any other move is a bug and
raises at once.

    Empty --join--> PreparingRebalance --all rejoined--> CompletingRebalance --sync--> Stable
      ^                 |   ^                                                            |
      +--no members-----+   +-------- join, leave, session expiry, metadata change -----+

A rebalance starts when a member joins or leaves politely, when a crashed member's session
expires, or when a subscribed topic appears, disappears or grows. Existing members learn of it
at their next heartbeat (every ``heartbeat_interval_ms``, 3 s by default) and rejoin. When every
member has rejoined, the generation goes up, the first member that joined (the leader) runs the
group's assignor, and the coordinator hands the result out: Stable.

A crashed member says nothing; the coordinator notices only when ``session_timeout_ms`` has
passed since its last heartbeat. Until then it still owns its partitions, and they sit still:
that lag is the cost of a crash. A rebalance that starts meanwhile waits for the expiry too.

When an Empty group gets its first member the coordinator waits
``group.initial.rebalance.delay.ms`` (3 s), extended by the same again for each newcomer, up to
the rebalance timeout, so a group starting up rebalances once rather than once per member.

Eager assignors (range, roundrobin, sticky) revoke everything: each member gives up all its
partitions when it rejoins, and consumption stops until the new assignment arrives.
cooperative-sticky revokes only what moves, over two rounds: the first round's assignment
withholds any partition that changes owner, its old owner revokes it, rejoins at once, and the
second round gives it to the new owner. The other partitions never stop.

Heartbeats are not clock actions: a member's heartbeats fall at ``joined + k * interval``, so
the next or last one is arithmetic and an idle group costs nothing while virtual time passes.

Members consume what they own: one record at a time, taking partitions in turn, reading only
below the high watermark. Processing takes ``processing_ms`` of virtual time and runs beside the
member's polling, so a busy member keeps its membership. ``commit`` says when the group's
offset moves: ``after`` processing (at-least-once: a crash mid-record means the next owner
processes it again), ``before`` (at-most-once: a crash mid-record loses it for this group), or
``auto`` (every ``auto.commit.interval.ms``, 5 s, the offsets processed by then). A commit only
counts while the member still owns the partition; otherwise it fails and the next owner starts
from the last committed offset.

Each delivery is an attempt under the group's delivery policy (see delivery.py): a record may
fail or time out, wait out a back-off in the consumer's hands (blocking every partition that
consumer owns) or go to a retry topic, and end in a dead-letter topic; the group commits past a
record once it is processed, forwarded or dead-lettered.
"""

import copy

from . import events as ev
from .assignors import ASSIGNORS, PROTOCOL, Subscription
from .clock import last_tick, next_tick
from .coordinator import (
    COMPLETING,
    DEAD,
    EMPTY,
    MODELLED,
    PREPARING,
    STABLE,
    TRANSITIONS,  # noqa: F401 (the state table, named here too, where the states are told)
    Coordinator,
)
from .delivery import (
    DELIVERY_DEFAULTS,
    H_DUE,
    MAX_BACKOFF_MS,
    backoff_ms,
    dead_letter_topic_name,
    header_int,
    headers_for,
    original_of,
    render,
    retry_topic_name,
    retry_topics,
)
from .offsets import Offsets, sorted_parts
from .replication import AckWaiter

AUTO_COMMIT_INTERVAL_MS = 5_000
HOLD_MAX_MS = 3_600_000  # the longest wait between tries of a forward that keeps failing
PERMANENT = "permanent"  # _publish: the target topic can never be created
MAX_POLL_RECORDS = 500
REBALANCE_TIMEOUT_MS = 300_000  # max.poll.interval.ms, which also bounds the initial delay

GROUP_DEFAULTS = {
    "assignor": "range",
    "session_timeout_ms": 45_000,
    "heartbeat_interval_ms": 3_000,
    "auto_offset_reset": "earliest",
    # The delivery policy: retries, back-off, timeouts, dead letters (see delivery.py).
    **DELIVERY_DEFAULTS,
}


_RETENTION = "deleted by retention"
_TRUNCATED = "truncated"


def _tp(part) -> list:
    return [part.topic.name, part.index]


# A member's record in hand moves through these phases (None: nothing in hand); each lists
# where it may go next. Delivered, it is processing; then it is done (None), or waits for the
# acknowledgements of what its processing sent ("acks"), for a retry's back-off ("backoff"),
# or for a forward to a retry or dead-letter topic that failed for now ("publish"); from each
# wait it is processed again or let go. Any other move is a bug: Member.move raises.
PHASE_MOVES = {
    None: frozenset({"processing"}),
    "processing": frozenset({None, "acks", "backoff", "publish"}),
    "acks": frozenset({None, "processing"}),
    "backoff": frozenset({None, "processing"}),
    "publish": frozenset({None, "processing"}),
}


class IllegalPhaseMove(AssertionError):
    """A delivery attempt moved where PHASE_MOVES does not allow: the model is wrong."""


class Member:
    __slots__ = ("group", "cluster", "id", "topics", "processing_ms", "commit", "joined_ms",
                 "crashed", "rejoined", "owned", "positions", "stints",
                 "owned_generation", "in_flight", "timer", "wake_timer", "rejoin_timer",
                 "expiry_timer", "commit_timer", "dirty", "rr", "current", "batch_left",
                 "declared", "retry_topics", "behaviour", "hangs", "plain", "attempt", "phase",
                 "waiter", "record", "started_ms", "error", "due_timer", "processing_rng",
                 "failure_rng", "pending")

    def __init__(self, group: "Group", member_id: str, topics: list[str], behaviour: dict,
                 commit: str, now_ms: int):
        self.group = group
        self.cluster = group.cluster
        self.id = member_id
        self.declared = sorted(set(topics))   # what the consumer asked for
        self.retry_topics: dict = {}          # retry topic -> (source topic, index)
        self.topics = self.declared           # its subscription, retry topics included
        self.resubscribe()
        self.behaviour = behaviour
        self.processing_ms = behaviour["processing_ms"]  # a number, or {"min", "max"}
        self.hangs = behaviour["hangs"]
        self.plain = False
        self._update_plain()
        # Each consumer draws from its own streams, so adding one never changes another's.
        self.processing_rng = self.cluster.rng(f"processing/{group.id}/{member_id}")
        self.failure_rng = self.cluster.rng(f"failure/{group.id}/{member_id}")
        self.commit = commit
        self.joined_ms = now_ms
        self.crashed = False
        self.rejoined = True
        self.owned: list = []            # Partition objects, sorted by (topic, index)
        self.positions: dict = {}        # Partition -> next offset to fetch
        self.stints: dict = {}           # Partition -> id of this ownership (see `_commit_past`)
        self.owned_generation = -1
        self.in_flight = None            # (Partition, offset, stint) in hand
        self.attempt = 0                 # of the record in hand
        self.phase = None                # of the record in hand: PHASE_MOVES
        self.waiter = None               # AckWaiter while the sends it made are unacknowledged
        self.record = None               # the record in hand: key, value, timestamp, headers
        self.started_ms = 0              # when the attempt in hand was delivered
        self.error = None                # how the attempt in hand will end (None: success)
        self.pending = None              # (kind, args, last wait): a forward to try again
        self.timer = None                # the attempt finishes / times out / is retried
        self.wake_timer = None
        self.due_timer = None            # a retry topic's head record comes due
        self.rejoin_timer = None
        self.expiry_timer = None
        self.commit_timer = None         # auto-commit
        self.dirty: dict = {}            # Partition -> (offset to commit, stint), auto mode
        self.rr = 0
        self.current = None              # the partition this fetch batch comes from
        self.batch_left = 0

    def resubscribe(self) -> bool:
        """Recompute the subscription from the group's delivery policy (retry topics);
        return whether it changed."""
        self.retry_topics = retry_topics(self.group.config, self.declared)
        topics = sorted(set(self.declared) | set(self.retry_topics))
        changed = topics != self.topics
        self.topics = topics
        return changed

    def _update_plain(self) -> None:
        # Records of a plain consumer can never fail, time out or produce: the zero-time fast
        # path in `pump` may take them a batch at a time.
        b = self.behaviour
        self.plain = (isinstance(self.processing_ms, int) and not b["failure_rate"]
                      and not b["fail_keys"] and not b["emits"] and not self.hangs)

    # -- heartbeats, as arithmetic ------------------------------------------------------------

    def next_heartbeat_ms(self, now_ms: int) -> int:
        return next_tick(now_ms, self.group.config["heartbeat_interval_ms"], self.joined_ms)

    def last_heartbeat_ms(self, now_ms: int) -> int:
        return last_tick(now_ms, self.group.config["heartbeat_interval_ms"], self.joined_ms)

    # -- ownership ----------------------------------------------------------------------------

    def take(self, parts: list) -> None:
        group = self.group
        cluster = self.cluster
        for part in parts:
            self.owned.append(part)
            cluster.stint_seq += 1
            stint = self.stints[part] = cluster.stint_seq
            position, reset_from = group.start_position(part)
            in_flight = self.in_flight
            committed = group.offsets.committed.get(part)
            if (in_flight is not None and in_flight[0] is part
                    and (committed is None or committed <= in_flight[1])):
                # Given back a partition whose record it is still processing (an eager
                # rebalance that changed nothing for it): carry on after that record, whose
                # commit now belongs to this ownership. Not if another owner committed past
                # it meanwhile: then its commit fails, and the committed offset never goes
                # back.
                position = max(position, in_flight[1] + 1)
                self.in_flight = (part, in_flight[1], stint)
            if reset_from is not None:
                group.announce_reset(self, part, reset_from, position,
                                     _TRUNCATED if reset_from > position else _RETENTION)
            self.positions[part] = position
            part.watchers.append(self)
        self.owned = sorted_parts(self.owned)

    def give_up(self, parts: list) -> None:
        in_flight = self.in_flight
        if in_flight is not None and in_flight[0] in parts and self.phase != "processing":
            # Waiting for a back-off or to publish: only this consumer's memory held the
            # record, and the next owner starts again from the committed offset.
            self.abandon("partition revoked")
        if self.commit == "auto" and not self.crashed:
            self.flush_auto_commit()  # Kafka's consumer commits before it lets partitions go
        for part in parts:
            self.owned.remove(part)
            del self.stints[part]
            del self.positions[part]
            self.dirty.pop(part, None)
            if self in part.watchers:
                part.watchers.remove(self)

    def move(self, phase) -> None:
        """The record in hand moves to `phase` (None: let go), as PHASE_MOVES allows."""
        if phase not in PHASE_MOVES[self.phase]:
            raise IllegalPhaseMove(f"member {self.id} of group {self.group.id}: the record in "
                                   f"hand cannot go from {self.phase} to {phase}")
        self.phase = phase

    def cancel_timers(self) -> None:
        if self.waiter is not None:
            self.waiter.cancel()
            self.waiter = None
        for timer in (self.timer, self.wake_timer, self.due_timer, self.rejoin_timer,
                      self.expiry_timer, self.commit_timer):
            if timer is not None:
                timer.cancel()
        self.timer = self.wake_timer = self.due_timer = self.rejoin_timer = None
        self.expiry_timer = self.commit_timer = None

    # -- consuming ----------------------------------------------------------------------------

    def wake(self) -> None:
        """New data may be readable: look at the next instant (never inside the caller)."""
        if self.in_flight is None and self.wake_timer is None and not self.crashed:
            self.wake_timer = self.cluster.clock.at(self.cluster.clock.now_ms, self._on_wake)

    def _on_wake(self, _) -> None:
        self.wake_timer = None
        self.pump()

    def _next_partition(self):
        owned = self.owned
        count = len(owned)
        rr = self.rr
        positions = self.positions
        retry = self.retry_topics
        for i in range(count):
            part = owned[(rr + i) % count]
            position = positions[part]
            if position < part.high_watermark and part.online:
                if position < part.leader_log.start_offset:
                    self.group.out_of_range(self, part, position)
                    if positions[part] >= part.high_watermark:
                        continue
                if retry and part.topic.name in retry and not self._due(part):
                    continue
                self.rr = (rr + i + 1) % count
                return part
        return None

    def _due(self, part) -> bool:
        """Whether a retry topic partition's next record may be processed now; if not, come
        back when it may (Spring pauses the partition until then)."""
        offset = self.positions[part]
        log = part.leader_log
        headers = log.headers.get(offset)
        due = header_int(headers, H_DUE) if headers else None
        if due is None:
            due = 0  # not written by a retry forward: nothing to wait for
        else:
            # A user may write any due time; none the model writes lies further out.
            due = min(due, log.timestamps[offset - log.base] + MAX_BACKOFF_MS)
        clock = self.cluster.clock
        if due <= clock.now_ms:
            return True
        if self.due_timer is None or self.due_timer.due_ms > due:
            if self.due_timer is not None:
                self.due_timer.cancel()
            self.due_timer = clock.at(due, self._on_due)
        return False

    def _on_due(self, _) -> None:
        self.due_timer = None
        if self.in_flight is None and not self.crashed:
            self.pump()

    def pump(self) -> None:
        """Deliver records until none is readable or one takes time to process.

        Like a Kafka fetch, a visit to a partition takes up to MAX_POLL_RECORDS records from it
        before moving to the next partition it owns.
        """
        cluster = self.cluster
        group = self.group
        gid = group.id
        mid = self.id
        out = cluster.out
        clock = cluster.clock
        committed = group.offsets.committed
        retry = self.retry_topics
        while self.in_flight is None and not self.crashed:
            part = self.current
            if (part is None or self.batch_left <= 0 or part not in self.positions
                    or self.positions[part] >= part.high_watermark or not part.online
                    or self.positions[part] < part.leader_log.start_offset
                    or (retry and part.topic.name in retry and not self._due(part))):
                part = self.current = self._next_partition()
                if part is None:
                    return
                self.batch_left = MAX_POLL_RECORDS
            topic = part.topic.name
            index = part.index
            stint = self.stints[part]
            offset = self.positions[part]
            now = clock.now_ms
            if (self.processing_ms or not self.plain or topic in retry
                    or group.config["message_timeout_ms"] is not None):
                # One record at a time: it takes time, or may fail, time out or produce.
                self.batch_left -= 1
                self.positions[part] = offset + 1
                self._begin(part, offset, stint)
                continue
            # Zero processing time: the whole batch is delivered, processed and committed at
            # this instant, in the same order of events as one record at a time.
            end = min(part.high_watermark, offset + self.batch_left)
            self.batch_left = 0
            self.positions[part] = end
            commit = self.commit
            seq = cluster.seq
            delivered, processed = out.record_delivered, out.record_processed
            committed_ = out.offset_committed
            for o in range(offset, end):
                seq += 1
                delivered(seq, now, gid, mid, topic, index, o, 1)
                if commit == "before":
                    seq += 1
                    committed_(seq, now, gid, mid, topic, index, o + 1)
                seq += 1
                processed(seq, now, gid, mid, topic, index, o, 1)
                if commit == "after":
                    seq += 1
                    committed_(seq, now, gid, mid, topic, index, o + 1)
            cluster.seq = seq
            if commit == "auto":
                self._note_auto_commit(part, end, stint)
            else:
                committed[part] = end

    # -- one record, attempt by attempt (the delivery policy, see delivery.py) -----------------

    def _fields(self, part, offset: int) -> dict:
        return {"group": self.group.id, "consumer": self.id, "topic": part.topic.name,
                "partition": part.index, "offset": offset}

    def _begin(self, part, offset: int, stint: int) -> None:
        """Take a record from the log into the consumer's hands (its first attempt here)."""
        log = part.leader_log
        i = offset - log.base
        headers = log.headers.get(offset)
        self.record = {"key": log.keys[i], "value": log.values[i],
                       "timestamp_ms": log.timestamps[i], "headers": headers}
        # Retry topic n holds attempt n + 1 (the forward that wrote it says so in
        # retry_topic-attempts too, but a user may write that header; the topic cannot lie).
        retry = self.retry_topics.get(part.topic.name)
        attempt = 1 if retry is None else retry[1] + 1
        self._attempt(part, offset, stint, attempt, first=True)

    def _attempt(self, part, offset: int, stint: int, attempt: int, first: bool) -> None:
        cluster = self.cluster
        group = self.group
        config = group.config
        clock = cluster.clock
        now = clock.now_ms
        self.in_flight = (part, offset, stint)
        self.attempt = attempt
        self.move("processing")
        self.started_ms = now
        # Everything record.delivered says is decided before it is announced: whether the
        # message timeout has already passed (no draw then), else how long processing takes
        # and whether it fails (the draws), so a hang or an overlong run shows on the delivery
        # itself as times_out_ms (a page counts down). The events come in the same order.
        limit = config["message_timeout_ms"]
        age = None
        if limit is not None:
            age = now - self._original()["timestamp_ms"]
            if age < limit:
                age = None
        times_out_ms = None
        if age is None:
            duration = self.processing_ms
            if not isinstance(duration, int):
                duration = self.processing_rng.randint(duration["min"], duration["max"])
            error = None
            rate = self.behaviour["failure_rate"]
            if 0 < rate < 1:
                if self.failure_rng.random() < rate:
                    error = f"processing failed (failure_rate {rate})"
            elif rate >= 1:
                error = "processing failed (failure_rate 1)"
            key = self.record["key"]
            if key is not None and key in self.behaviour["fail_keys"]:
                error = f"poison record: key {key!r} always fails"
            timeout = config["processing_timeout_ms"]
            if self.hangs or duration >= timeout:
                times_out_ms = now + timeout
        cluster.out.record_delivered(cluster.next_seq(), now, group.id, self.id,
                                     part.topic.name, part.index, offset, attempt,
                                     times_out_ms)
        if first and self.commit == "before":
            group.offsets.commit(self.id, part, offset + 1)
        if age is not None:
            ev.record_timed_out(self.cluster, **self._fields(part, offset),
                                kind="message", attempt=attempt, age_ms=age,
                                message_timeout_ms=limit)
            self._dead_letter(attempt - 1, "message_timeout",
                              f"message timeout: produced {age:,} ms ago, the limit is "
                              f"{limit:,} ms")
            return
        self.error = error
        if times_out_ms is not None:
            self.timer = clock.at(times_out_ms, self._timed_out)
        elif duration:
            self.timer = clock.at(now + duration, self._finish)
        else:
            self._complete()

    def _finish(self, _) -> None:
        self.timer = None
        self._complete()
        self.pump()

    def _complete(self) -> None:
        if self.error is None:
            self._succeed()
        else:
            self._fail(self.error)

    def _timed_out(self, _) -> None:
        self.timer = None
        part, offset, _stint = self.in_flight
        elapsed = self.cluster.clock.now_ms - self.started_ms
        ev.record_timed_out(self.cluster, **self._fields(part, offset), kind="processing",
                            attempt=self.attempt, delivered_ms=self.started_ms,
                            processing_timeout_ms=elapsed)
        self._fail(f"processing timed out after {elapsed:,} ms")
        self.pump()

    def _succeed(self) -> None:
        part, offset, stint = self.in_flight
        if self.behaviour["emits"]:
            waiter = AckWaiter(self.cluster)
            failed = self._emit_outputs(part, offset, waiter)
            if failed is not None:
                waiter.cancel()
                self._fail(failed)
                return
            self._after_acks(waiter, self._processed_ok, lambda error: self._fail(
                f"a record it sent was not acknowledged: {error}"))
            return
        self._processed_ok()

    def _after_acks(self, waiter, on_ok, on_error) -> None:
        """Go on with `on_ok` once every record the consumer sent for the record in hand is
        acknowledged (at once when acks came at append), or `on_error(kafka_error)` if one is
        not: Spring waits for a send's result before it counts the record done and commits,
        so a send a leader change cuts away fails the attempt instead of vanishing after the
        commit."""
        if not waiter.keys:
            on_ok()
            return
        member = self

        def answered(error) -> None:
            if member.waiter is not waiter:
                return  # the record in hand was let go meanwhile
            member.waiter = None
            member.move("processing")
            if error is None:
                on_ok()
            else:
                on_error(error)
            member.pump()

        waiter.callback = answered
        self.waiter = waiter
        self.move("acks")

    def _processed_ok(self) -> None:
        part, offset, stint = self.in_flight
        self.in_flight = None
        self.move(None)
        cluster = self.cluster
        cluster.out.record_processed(cluster.next_seq(), cluster.clock.now_ms, self.group.id,
                                     self.id, part.topic.name, part.index, offset,
                                     self.attempt)
        self._commit_past(part, offset, stint)

    def _emit_outputs(self, part, offset: int, waiter) -> str | None:
        """What the consumer's code sends while it processes the record: real records, before
        it reports the record processed, each naming the record that caused it. A failed send
        fails the attempt, as an exception from KafkaTemplate.send fails a Spring listener: the
        sends after it are not made, and a retry sends everything again (duplicates of what
        went out are the price of at-least-once). Returns the error, or None."""
        cluster = self.cluster
        record = self.record
        cause = {"topic": part.topic.name, "partition": part.index, "offset": offset,
                 "group": self.group.id}
        producer = f"{self.group.id}/{self.id}"
        for out in self.behaviour["emits"]:
            for i in range(1, out["fanout"] + 1):
                key = out["key"]
                key = record["key"] if key == "same" else (
                    None if key is None else render(key, record["key"], record["value"], i))
                value = render(out["value"], record["key"], record["value"], i)
                # retries=0: the delivery policy, not the producer, retries a failed send.
                sent = cluster.produce(out["topic"], value, key=key, acks="all",
                                       producer=producer, retries=0, cause=cause, waiter=waiter)
                if sent.offset is None:
                    return f"sending to {out['topic']!r} failed: {sent.error or 'failed'}"
        return None

    def _commit_past(self, part, offset: int, stint: int) -> None:
        """The record is done with (processed, forwarded to a retry topic or dead-lettered):
        commit past it as the member's commit mode says. A commit counts only while this
        ownership (`stint`) lasts; otherwise the next owner processes the record again."""
        commit = self.commit
        if commit == "after":
            if self.stints.get(part) == stint:
                self.group.offsets.commit(self.id, part, offset + 1)
            else:
                self.group.commit_failed(self, part, offset + 1)
        elif commit == "auto":
            self._note_auto_commit(part, offset + 1, stint)

    def _fail(self, error: str) -> None:
        part, offset, stint = self.in_flight
        cluster = self.cluster
        config = self.group.config
        attempt = self.attempt
        fields = self._fields(part, offset)
        if self.stints.get(part) != stint:
            # The partition moved while the record was processed: the new owner has it now.
            ev.record_failed(cluster, **fields, attempt=attempt,
                             max_attempts=config["max_attempts"], error=error, revoked=True)
            self.in_flight = None
            self.move(None)
            return
        ev.record_failed(cluster, **fields, attempt=attempt,
                         max_attempts=config["max_attempts"], error=error)
        if attempt >= config["max_attempts"]:
            self._dead_letter(attempt, "max_attempts", error)
            return
        delay = backoff_ms(config, attempt)
        due = cluster.clock.now_ms + delay
        if config["retry_mode"] == "topics":
            self._forward_retry(error, delay)
            return
        ev.record_retry_scheduled(cluster, **fields, attempt=attempt + 1,
                                  delay_ms=delay, due_ms=due, retry_topic=None)
        self.move("backoff")
        self.timer = cluster.clock.at(due, self._retry)

    def _retry(self, _) -> None:
        self.timer = None
        part, offset, stint = self.in_flight
        self._attempt(part, offset, stint, self.attempt + 1, first=False)
        self.pump()

    def _main_topic(self, part) -> str:
        """The topic a record in hand belongs to for naming its retry and dead-letter topics:
        its own, or for one of the group's retry topics, that retry topic's main topic. Known
        from the subscription, never from headers a user could have written."""
        name = part.topic.name
        source = self.retry_topics.get(name)
        return name if source is None else source[0]

    def _original(self) -> dict:
        part, offset, _ = self.in_flight
        source = self.retry_topics.get(part.topic.name)
        return original_of(part.topic.name, part.index, offset, self.record,
                           None if source is None else source[0])

    def _publish(self, topic_name: str, original: dict, headers: dict, waiter):
        """Send the record in hand to a retry or dead-letter topic, same partition as the
        original; return (partition, offset), or None when the send failed."""
        part, offset, _ = self.in_flight
        cluster = self.cluster
        source = cluster.topics.get(self._main_topic(part)) or part.topic
        topic, why = cluster.delivery_topic(topic_name, source)
        if topic is None:
            # Kafka's admin client would answer the CreateTopics request with this error; a
            # name collision never heals, so the caller gives up rather than waiting.
            ev.produce_failed(cluster, topic=topic_name, partition=None,
                              key=self.record["key"], value=self.record["value"],
                              producer=f"{self.group.id}/{self.id}", acks="all",
                              error="INVALID_TOPIC_EXCEPTION" if why.permanent
                              else "LEADER_NOT_AVAILABLE", retriable=not why.permanent,
                              message=f"cannot create {topic_name!r}: {why.message}",
                              cause={"topic": part.topic.name, "partition": part.index,
                                     "offset": offset, "group": self.group.id})
            return PERMANENT if why.permanent else None
        partition = original["partition"] % len(topic.partitions)
        cause = {"topic": part.topic.name, "partition": part.index, "offset": offset,
                 "group": self.group.id}
        written = cluster.produce(topic_name, self.record["value"], key=self.record["key"],
                                  headers=headers, partition=partition, acks="all",
                                  producer=f"{self.group.id}/{self.id}", retries=0,
                                  cause=cause, waiter=waiter)
        return None if written.offset is None else (partition, written.offset)

    def _hold(self, retry: tuple) -> None:
        """A forward failed for now (the produce.failed says why: an offline partition, too
        few in-sync replicas): keep the record and try again, as Spring's error handler seeks
        back and redelivers. The first wait is the longest back-off (at least 1 s); each
        further failure of the same forward doubles it, up to HOLD_MAX_MS, so a DLT offline
        for days costs a few clock actions a day, not one every 30 s."""
        previous = self.pending[2] if self.pending is not None else 0
        first = max(self.group.config["retry_backoff_max_ms"], 1_000)
        wait = min(max(first, previous * 2), max(first, HOLD_MAX_MS))
        self.move("publish")
        self.pending = (*retry, wait)
        self.timer = self.cluster.clock.at(self.cluster.clock.now_ms + wait, self._republish)

    def _republish(self, _) -> None:
        self.timer = None
        kind, args, _wait = self.pending
        self.move("processing")
        if kind == "retry":
            self._forward_retry(*args)
        else:
            self._dead_letter(*args)
        if self.phase != "publish":
            self.pending = None
        self.pump()

    def _forward_retry(self, error: str, delay: int) -> None:
        part, offset, stint = self.in_flight
        attempt = self.attempt
        original = self._original()
        now = self.cluster.clock.now_ms
        due = now + delay
        name = retry_topic_name(self._main_topic(part), attempt)
        headers = headers_for(original, self.group.id, error, attempt + 1, due_ms=due)
        waiter = AckWaiter(self.cluster)
        written = self._publish(name, original, headers, waiter)
        if written is None:
            waiter.cancel()
            self._hold(("retry", (error, delay)))
            return
        if written is PERMANENT:
            waiter.cancel()
            # The retry topic can never exist: what is left is the dead-letter topic.
            self._dead_letter(attempt, "max_attempts", f"{error}; retry topic {name!r} "
                              "cannot be created")
            return

        def forwarded() -> None:
            ev.record_retry_scheduled(self.cluster, **self._fields(part, offset),
                                      attempt=attempt + 1, delay_ms=delay, due_ms=due,
                                      retry_topic=name, retry_partition=written[0],
                                      retry_offset=written[1])
            self.in_flight = None
            self.move(None)
            self._commit_past(part, offset, stint)

        self._after_acks(waiter, forwarded, lambda _: self._hold(("retry", (error, delay))))

    def _dead_letter(self, attempts: int, reason: str, error: str) -> None:
        part, offset, stint = self.in_flight
        original = self._original()
        name = dead_letter_topic_name(self.group.config, self._main_topic(part))
        headers = headers_for(original, self.group.id, error, attempts)
        waiter = AckWaiter(self.cluster)
        written = self._publish(name, original, headers, waiter)
        if written is None:
            waiter.cancel()
            self._hold(("dead_letter", (attempts, reason, error)))
            return
        if written is PERMANENT:
            waiter.cancel()
            # Holding the record would stall its partition for ever: announce that it is
            # given up (the DeliveryChecker counts record.dropped as an announced end) and
            # commit past it.
            ev.record_dropped(self.cluster, **self._fields(part, offset),
                              attempts=attempts, reason=reason, error=error,
                              dead_letter_topic=name,
                              why=f"the dead-letter topic {name!r} cannot be created (see "
                                  "produce.failed)")
            self.in_flight = None
            self.move(None)
            self._commit_past(part, offset, stint)
            return
        fields = self._fields(part, offset)
        if original["topic"] != part.topic.name:
            fields["original"] = {"topic": original["topic"],
                                  "partition": original["partition"],
                                  "offset": original["offset"]}

        def dead_lettered() -> None:
            ev.record_dead_lettered(self.cluster, **fields, attempts=attempts,
                                    reason=reason, error=error, dead_letter_topic=name,
                                    dead_letter_partition=written[0],
                                    dead_letter_offset=written[1])
            self.in_flight = None
            self.move(None)
            self._commit_past(part, offset, stint)

        self._after_acks(waiter, dead_lettered,
                         lambda _: self._hold(("dead_letter", (attempts, reason, error))))

    def abandon(self, reason: str) -> None:
        """Drop the record in hand without an outcome (its partition moved while it waited)."""
        part, offset, _ = self.in_flight
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.waiter is not None:
            self.waiter.cancel()
            self.waiter = None
        ev.record_abandoned(self.cluster, **self._fields(part, offset),
                            attempt=self.attempt, phase=self.phase,
                            reason=f"{reason}; the next owner starts again from the committed "
                                   "offset, counting attempts from 1")
        self.in_flight = None
        self.move(None)
        self.pending = None

    def set_hangs(self, hangs: bool) -> None:
        """consumer.hang: from now on the consumer's code never returns (or, with False, it
        behaves again). A record it is processing now never finishes either: its processing
        timeout, counted from its record.delivered, is what ends it."""
        self.hangs = hangs
        self._update_plain()
        if hangs and self.in_flight is not None and self.phase == "processing" \
                and self.timer is not None and self.timer.action == self._finish:
            self.timer.cancel()
            due = self.started_ms + self.group.config["processing_timeout_ms"]
            self.timer = self.cluster.clock.at(due, self._timed_out)

    def _note_auto_commit(self, part, offset: int, stint: int) -> None:
        self.dirty[part] = (offset, stint)
        if self.commit_timer is None:
            clock = self.cluster.clock
            due = next_tick(clock.now_ms, AUTO_COMMIT_INTERVAL_MS, self.joined_ms)
            self.commit_timer = clock.at(due, self._auto_commit)

    def _auto_commit(self, _) -> None:
        self.commit_timer = None
        self.flush_auto_commit()

    def flush_auto_commit(self) -> None:
        dirty = self.dirty
        self.dirty = {}
        for part in sorted_parts(dirty):
            offset, stint = dirty[part]
            if self.stints.get(part) == stint:
                self.group.offsets.commit(self.id, part, offset)

    def in_flight_record(self) -> dict | None:
        if self.in_flight is None:
            return None
        part, offset, _ = self.in_flight
        out = {"topic": part.topic.name, "partition": part.index, "offset": offset,
               "attempt": self.attempt, "phase": self.phase}
        # What the page counts down to: the processing timeout of a record that will not
        # finish in time (a hung consumer), or the end of a retry's back-off.
        timer = self.timer
        if timer is not None and timer.active:
            if timer.action == self._timed_out:
                out["times_out_ms"] = timer.due_ms
            elif self.phase == "backoff":
                out["retry_ms"] = timer.due_ms
        return out

    def state(self) -> dict:
        b = self.behaviour
        return {
            "topics": list(self.topics),
            "declared_topics": list(self.declared),
            "processing_ms": copy.deepcopy(self.processing_ms),
            "failure_rate": b["failure_rate"],
            "fail_keys": list(b["fail_keys"]),
            "hangs": self.hangs,
            "emits": copy.deepcopy(b["emits"]),
            "commit": self.commit,
            "status": "crashed" if self.crashed else "live",
            "session_expires_ms": self.expiry_timer.due_ms if self.crashed
            and self.expiry_timer is not None and self.expiry_timer.active else None,
            "joined_ms": self.joined_ms,
            "partitions": [_tp(p) for p in self.owned],
            "positions": [[p.topic.name, p.index, self.positions[p]] for p in self.owned],
            "in_flight": self.in_flight_record(),
        }


class Group:
    """A group of modelled consumers: the coordinator decides when each one rejoins and runs
    the assignor itself. It HAS a coordinator core and an offsets store (see coordinator.py's
    `ConsumerGroup` for what every group offers)."""

    kind = MODELLED
    external = False  # True for a group of real Kafka clients (classic.ClientGroup)

    def __init__(self, cluster, group_id: str, config: dict, offsets: Offsets | None = None,
                 generation: int = 0, next_member_number: int = 1):
        self.cluster = cluster
        self.id = group_id
        self.config = config
        self.core = Coordinator(cluster, group_id, self.maybe_complete, generation,
                                next_member_number)
        self.offsets = offsets if offsets is not None else Offsets(cluster, group_id)

    # -- what every group shows (coordinator.ConsumerGroup) -----------------------------------

    @property
    def state(self) -> str:
        return self.core.state

    @property
    def generation(self) -> int:
        return self.core.generation

    @property
    def leader(self) -> str | None:
        return self.core.leader

    @property
    def members(self) -> dict[str, Member]:  # in join order: the first is the leader
        return self.core.members

    @property
    def committed(self) -> dict:  # Partition -> next offset to read
        return self.offsets.committed

    @property
    def occupied(self) -> bool:
        return bool(self.core.members)

    @property
    def next_member_number(self) -> int:
        return self.core.next_member_number

    @next_member_number.setter
    def next_member_number(self, n: int) -> None:
        self.core.next_member_number = n

    def transition(self, to: str) -> None:
        self.core.transition(to)

    def delete(self) -> None:
        self.core.transition(DEAD)

    @property
    def protocol(self) -> str:
        return PROTOCOL[self.config["assignor"]]

    # -- membership ---------------------------------------------------------------------------

    def join(self, member: Member) -> None:
        core = self.core
        core.members[member.id] = member
        ev.group_member_joined(self.cluster, group=self.id, consumer=member.id,
                               topics=list(member.topics), commit=member.commit,
                               generation=core.generation)
        if core.state == EMPTY:
            self.prepare("member joined", initial=True)
        elif core.state == PREPARING:
            core.newcomer_during_delay()
        else:
            self.prepare(f"member {member.id} joined")

    def resubscribe(self) -> None:
        """The delivery policy changed which retry topics the members read: a subscription
        change, so a rebalance (as when a Kafka consumer calls subscribe() again)."""
        members = self.core.members
        changed = [mid for mid, m in members.items() if m.resubscribe()]
        if changed:
            ev.group_subscription_changed(self.cluster, group=self.id,
                                          subscriptions={mid: list(members[mid].topics)
                                                         for mid in changed})
            live = [m for m in members.values() if not m.crashed]
            if live:
                self.prepare("subscription changed: retry topics")

    def topic_changed(self, reason: str) -> None:
        """A subscribed topic appeared, disappeared or grew: the coordinator rebalances."""
        self.prepare(reason)

    def leave(self, member: Member) -> None:
        """A polite LeaveGroup: commit what auto-commit owes, give the partitions back at once,
        then rebalance the rest. A record still being processed is abandoned; its next owner
        processes it again (or, with commit="before", nobody does)."""
        self._remove(member, ev.group_member_left, "left the group")

    def crash(self, member: Member) -> None:
        member.cancel_timers()
        # After the timers: a dead process's record has no timeout or back-off to count down.
        in_flight = member.in_flight_record()
        member.in_flight = None
        member.crashed = True
        member.dirty = {}  # what a dead process had not committed yet is gone with it
        for part in member.owned:
            if member in part.watchers:
                part.watchers.remove(member)
        now = self.cluster.clock.now_ms
        expires = member.last_heartbeat_ms(now) + self.config["session_timeout_ms"]
        member.expiry_timer = self.cluster.clock.at(expires, self._expire, member)
        ev.consumer_crashed(self.cluster, group=self.id, consumer=member.id,
                            in_flight=in_flight, session_expires_ms=expires)

    def _expire(self, member: Member) -> None:
        member.expiry_timer = None
        self._remove(member, ev.group_member_expired, "session timed out")

    def _remove(self, member: Member, event, reason: str) -> None:
        core = self.core
        in_flight = member.in_flight_record()
        member.in_flight = None
        if member.owned:
            parts = list(member.owned)
            ev.partition_revoked(self.cluster, group=self.id, consumer=member.id,
                                 partitions=[_tp(p) for p in parts], generation=core.generation,
                                 reason=reason)
            member.give_up(parts)
        member.cancel_timers()
        del core.members[member.id]
        fields = {"in_flight": in_flight} if in_flight else {}
        event(self.cluster, group=self.id, consumer=member.id,
              generation=core.generation, **fields)
        if core.state in (STABLE, COMPLETING):
            self.prepare(f"member {member.id} {reason}")
        elif core.state == PREPARING:
            self.maybe_complete()

    # -- rebalancing --------------------------------------------------------------------------

    def prepare(self, reason: str, initial: bool = False, rejoin_now: tuple = ()) -> None:
        core = self.core
        if core.state == PREPARING:
            return
        core.transition(PREPARING)
        ev.group_rebalance_started(self.cluster, group=self.id, generation=core.generation,
                                   reason=reason, protocol=self.protocol)
        clock = self.cluster.clock
        now = clock.now_ms
        if initial:
            core.start_initial_delay(REBALANCE_TIMEOUT_MS)
        for member in core.members.values():
            if member.crashed:
                member.rejoined = False  # it never will: the rebalance waits for its expiry
                continue
            if member.owned_generation < 0:
                continue  # never assigned yet: its own JoinGroup is part of this rebalance
            member.rejoined = False
            due = now if member.id in rejoin_now else member.next_heartbeat_ms(now)
            member.rejoin_timer = clock.at(due, self._rejoin, member)
        self.maybe_complete()

    def _rejoin(self, member: Member) -> None:
        member.rejoin_timer = None
        if self.protocol == "eager" and member.owned:
            parts = list(member.owned)
            ev.partition_revoked(self.cluster, group=self.id, consumer=member.id,
                                 partitions=[_tp(p) for p in parts], generation=self.generation,
                                 reason="eager rebalance: every partition is revoked")
            member.give_up(parts)
        member.rejoined = True
        self.maybe_complete()

    def maybe_complete(self) -> None:
        """Complete the join if it can: called as members rejoin or go, and when the initial
        rebalance delay is over (the core's join timer; classic.ClientGroup completes the join
        outright then: its barrier is its clients' joins)."""
        core = self.core
        if core.state != PREPARING or core.join_timer is not None:
            return
        if not core.members:
            core.generation += 1
            core.leader = None
            core.transition(EMPTY)
            return
        if all(m.rejoined for m in core.members.values()):
            self._complete()

    def _complete(self) -> None:
        cluster = self.cluster
        core = self.core
        members = core.members
        core.generation += 1
        core.leader = next(iter(members))
        core.transition(COMPLETING)
        topics = cluster.topics
        counts = {}
        for member in members.values():
            for name in member.topics:
                if name in topics:
                    counts[name] = len(topics[name].partitions)
        subscriptions = {
            mid: Subscription(topics=tuple(m.topics),
                              owned=tuple((p.topic.name, p.index) for p in m.owned),
                              generation=m.owned_generation)
            for mid, m in members.items()
        }
        result = ASSIGNORS[self.config["assignor"]](subscriptions, counts)
        core.transition(STABLE)
        generation = core.generation
        ev.group_rebalance_completed(cluster, group=self.id, generation=generation,
                                     leader=core.leader, assignor=self.config["assignor"],
                                     protocol=self.protocol,
                                     assignment={mid: [list(tp) for tp in result[mid]]
                                                 for mid in sorted(result)})
        # Every revocation happens before any assignment, so no partition has two owners even
        # when the protocol changed during the rebalance and someone still holds what moves.
        wanted = {mid: [topics[t].partitions[i] for t, i in result[mid]] for mid in result}
        revoked_any = []
        for mid in sorted(members):
            member = members[mid]
            revoke = [p for p in member.owned if p not in wanted[mid]]
            if revoke:
                ev.partition_revoked(cluster, group=self.id, consumer=mid,
                                     partitions=[_tp(p) for p in revoke], generation=generation,
                                     reason="rebalance: moving to another member")
                member.give_up(revoke)
                revoked_any.append(mid)
        for mid in sorted(members):
            member = members[mid]
            add = [p for p in wanted[mid] if p not in member.owned]
            if add:
                ev.partition_assigned(cluster, group=self.id, consumer=mid,
                                      partitions=[_tp(p) for p in sorted_parts(add)],
                                      generation=generation)
                member.take(add)
            member.owned_generation = generation
        for mid in sorted(members):
            members[mid].wake()
        if revoked_any and self.protocol == "cooperative":
            self.prepare("cooperative rebalance, second round: assign the revoked partitions",
                         rejoin_now=tuple(revoked_any))

    # -- offsets ------------------------------------------------------------------------------

    def start_position(self, part) -> tuple[int, int | None]:
        """Where an owner starts reading `part`, and the committed offset it had to abandon
        (see Offsets.start_position), under the group's auto_offset_reset."""
        return self.offsets.start_position(part, self.config["auto_offset_reset"])

    def out_of_range(self, member: Member, part, position: int) -> None:
        """The position fell below the log start (retention deleted it): auto.offset.reset."""
        to = part.leader_log.start_offset if self.config["auto_offset_reset"] == "earliest" \
            else part.high_watermark
        member.positions[part] = to
        self.announce_reset(member, part, position, to)

    def log_truncated(self, part) -> None:
        """A new leader's log ends before what some members already read. Since KIP-320 a
        consumer detects this by leader epoch and goes on from where the logs part ways (the
        new log end), not from auto.offset.reset; a record in hand that no longer exists has
        no outcome to report."""
        end = part.leader_log.end_offset
        members = self.core.members
        for mid in sorted(members):
            member = members[mid]
            if member.crashed or part not in member.positions:
                continue
            in_flight = member.in_flight
            if in_flight is not None and in_flight[0] is part and in_flight[1] >= end:
                member.abandon("the record was truncated away by a leader change")
                member.wake()
            position = member.positions[part]
            if position > end:
                member.positions[part] = end
                self.announce_reset(member, part, position, end, _TRUNCATED)

    def announce_reset(self, member: Member, part, previous: int, to: int,
                       why: str = "deleted by retention") -> None:
        if why == _TRUNCATED:
            reason = ("beyond the log end: a leader change truncated the log; the consumer "
                      "goes on from the new log end (KIP-320)")
        else:
            reason = (f"offset out of range ({why}); "
                      f"auto.offset.reset={self.config['auto_offset_reset']}")
        ev.offset_reset(self.cluster, group=self.id, consumer=member.id,
                        topic=part.topic.name, partition=part.index, offset=to,
                        previous=previous, reason=reason)

    def commit_failed(self, member: Member, part, offset: int) -> None:
        ev.offset_commit_failed(self.cluster, group=self.id, consumer=member.id,
                                topic=part.topic.name, partition=part.index, offset=offset,
                                error="REBALANCE_IN_PROGRESS",
                                reason="the partition was revoked while the record was processed; "
                                       "its next owner will process it again")

    def forget_partitions(self, parts: list) -> None:
        """A topic was deleted: its partitions leave every member and the offset table."""
        doomed = set(parts)
        for member in self.core.members.values():
            lost = [p for p in member.owned if p in doomed]
            if lost:
                ev.partition_revoked(self.cluster, group=self.id, consumer=member.id,
                                     partitions=[_tp(p) for p in lost],
                                     generation=self.generation, reason="topic deleted")
                member.give_up(lost)
        self.offsets.forget(parts)

    def subscribed_topics(self) -> list[str]:
        return self.core.subscribed_topics()

    # -- the view -----------------------------------------------------------------------------

    def lag_rows(self) -> list[dict]:
        owners = {}
        for member in self.core.members.values():
            for part in member.owned:
                owners[part] = member
        return self.offsets.lag_rows(self.subscribed_topics(), owners, _reading,
                                     self.config["auto_offset_reset"])

    def snapshot(self) -> dict:
        core = self.core
        return {
            "state": core.state,
            "generation": core.generation,
            "assignor": self.config["assignor"],
            "protocol": self.protocol,
            "leader": core.leader,
            "members": {mid: [_tp(p) for p in m.owned] for mid, m in core.members.items()},
            "consumers": {mid: m.state() for mid, m in core.members.items()},
            "lag": self.lag_rows(),
            "config": dict(self.config),
        }


def _reading(owner: Member, part) -> int | None:
    """Where a live owner reads `part` for lag: the record in hand of this ownership, else its
    position; None for a crashed owner (lag counts from where its successor would start)."""
    if owner.crashed or part not in owner.positions:
        return None
    in_flight = owner.in_flight
    if in_flight and in_flight[0] is part and in_flight[2] == owner.stints[part]:
        return in_flight[1]
    return owner.positions[part]
