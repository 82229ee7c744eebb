"""Producing: the `produce` command, steady producer workloads, and the producer's retries.

Functions of the cluster (`produce_batch(cluster, ...)`, ...), as replication.py's and
classic.py's; `HANDLERS` maps each command type to its handler, which the cluster's table binds.
`produce_batch` is the hot path every model record takes (a workload's tick, a `produce`
command, a consumer's forwards; a real client's batch, already partitioned and checked, is
appended whole by `append_batch`): per-record work in one loop,
what depends only on the partitions touched once after it. What a failed or unacknowledged
record becomes (queued, sent again after a back-off, deduplicated, given up) is here too;
replication.py reaches it through the cluster when a leader changes or the ISR shrinks under
an acks=all write (`requeue_pending`, `retry_entries`), since producing sits above replication.
"""

from bisect import insort
from functools import partial
from typing import NamedTuple

from . import events as ev
from . import replication, topics
from . import validate as v
from .errors import CommandError
from .log import ACKS_CODE, record_size
from .partitioner import StickyPartitioner, key_hash
from .producer import MAX_RATE_PER_S, MIN_RATE_PER_S, ProducerWorkload, parse_keys

_HASH_MEMO_LIMIT = 65_536  # murmur2 results a workload with repeating keys remembers
UNLIMITED_RETRIES = 2_147_483_647  # Kafka's default `retries`: delivery.timeout.ms decides
RETRIABLE = {"NOT_ENOUGH_REPLICAS", "NOT_ENOUGH_REPLICAS_AFTER_APPEND", "LEADER_NOT_AVAILABLE",
             "NOT_LEADER_OR_FOLLOWER", "NETWORK_EXCEPTION"}


def _delivery(c: dict, acks: str) -> tuple[bool, int]:
    """A producer's enable.idempotence and retries, with Kafka's rules and defaults."""
    idempotent = c.get("idempotent")
    if idempotent is None:
        idempotent = acks == "all"
    elif not isinstance(idempotent, bool):
        raise CommandError("idempotent", "must be true or false")
    elif idempotent and acks != "all":
        raise CommandError("idempotent", "enable.idempotence needs acks=all (Kafka refuses "
                           f"the combination with acks={acks})")
    retries = v.integer(c, "retries", default=UNLIMITED_RETRIES, minimum=0,
                        maximum=UNLIMITED_RETRIES)
    if idempotent and retries == 0:
        raise CommandError("retries", "an idempotent producer needs retries > 0")
    return idempotent, retries


class Sent(NamedTuple):
    """What a send came to, for the sender: the offsets its records were written at (the
    first and the last written; None when none was), and the error of the last record that
    was not written (Kafka's code and a sentence), or None. A client's answer is read from
    here, never from the events."""
    first: int | None
    offset: int | None
    error: str | None = None
    message: str | None = None
    partition: int | None = None  # the last record's


_new_tuple = tuple.__new__


def sent_answer(topic: str, sent: Sent) -> dict:
    """A produce's answer: {"topic", "partition", "base_offset", "last_offset"} for records
    written, else {"topic", "partition", "error", "message"} (Kafka's error code; "partition"
    None when the record never reached one), or {"queued": True}: waiting behind the same
    producer's records queued to be sent again."""
    partition = sent.partition
    if sent.offset is not None:
        return {"topic": topic, "partition": partition, "base_offset": sent.first,
                "last_offset": sent.offset}
    if sent.error is None:
        return {"topic": topic, "partition": partition, "queued": True}
    return {"topic": topic, "partition": partition, "error": sent.error,
            "message": sent.message}


class _RetryBatch:
    __slots__ = ("producer", "topic", "partition", "acks", "records", "attempt", "timer")

    def __init__(self, producer: str, topic: str, partition: int, acks: str):
        self.producer = producer
        self.acks = acks
        self.topic = topic
        self.partition = partition
        self.records: list = []
        self.attempt = 1
        self.timer = None


_PRODUCE_FIELDS = frozenset({"type", "topic", "value", "key", "headers", "partition", "acks",
                             "producer", "idempotent", "retries"})


# -- producing ----------------------------------------------------------------------------


def produce_command(cluster, c: dict) -> dict:
    """Answer: the record's partition and offset, or Kafka's error (sent_answer)."""
    v.check_fields(c, _PRODUCE_FIELDS)
    topic = topics.existing_topic(cluster, c, "topic")
    value = v.string(c, "value", default=None, nullable=True, max_length=v.MAX_VALUE_CHARS)
    key = v.string(c, "key", default=None, nullable=True, max_length=10_000)
    # Headers and a partition are rarely given: absent, they need no reader call.
    headers = c.get("headers")
    if headers is not None:
        headers = v.headers(headers, "headers", empty_names=False)
    partition = c.get("partition")
    if partition is not None:
        partition = v.integer(c, "partition", minimum=0)
    if partition is not None and partition >= len(topic.partitions):
        raise CommandError("partition", f"topic {topic.name!r} has partitions 0 to "
                           f"{len(topic.partitions) - 1}; there is no partition {partition}")
    acks = v.acks(c, default="all")
    idempotent, retries = _delivery(c, acks)
    producer = v.identifier(c, "producer", default="console", what="producer id")
    # produce_batch itself, not the produce() wrapper: one call less per command.
    sent = produce_batch(cluster, topic.name, [(key, value, headers, partition)], acks,
                         producer, idempotent=idempotent, retries=retries)
    return sent_answer(topic.name, sent)


def produce(cluster, topic_name: str, value, key=None, headers=None, partition=None,
            acks: str = "all", producer: str = "console", idempotent: bool | None = None,
            retries: int = UNLIMITED_RETRIES, cause: dict | None = None,
            waiter=None) -> Sent:
    """Append one record as a producer would; `.offset` is its offset, None if it failed
    (`.error` says why)."""
    return produce_batch(cluster, topic_name, [(key, value, headers, partition)], acks,
                         producer, idempotent=idempotent, retries=retries, cause=cause,
                         waiter=waiter)


def produce_batch(cluster, topic_name: str, records: list, acks: str, producer: str,
                  hashes: dict | None = None, idempotent: bool | None = None,
                  retries: int = UNLIMITED_RETRIES, cause: dict | None = None,
                  waiter=None) -> Sent:
    """Append records ``(key, value, headers, partition or None)`` in order, as one producer
    sends them; return what came of it (Sent: `.offset` None if the last failed).

    Everything per record (choosing the partition, the checks a leader makes, the append,
    the events) happens in this loop; what depends only on which partitions were touched
    (waking consumers, scheduling follower fetches and retention) happens once, after it.
    `hashes` may remember murmur2 results for a producer whose keys repeat. A record bound
    for a partition where this producer already has records waiting to be retried joins
    them, so a producer's records stay in order. `idempotent` defaults to Kafka's since
    3.0: on whenever acks=all.
    `cause` names the record a consumer was processing when it sent these (pipelines,
    retries, dead letters); their events carry it. Such sends use retries=0: the delivery
    policy, not the producer, decides what a failed send means. (A real client's batch is
    appended by `append_batch`.)
    """
    if idempotent is None:
        idempotent = acks == "all"
    topic = cluster.topics.get(topic_name)
    if topic is None:
        for key, value, _, partition in records:
            ev.produce_failed(cluster, topic=topic_name, partition=partition, key=key,
                              value=value, producer=producer, acks=acks,
                              error="UNKNOWN_TOPIC_OR_PARTITION", retriable=False,
                              message=f"topic {topic_name!r} does not exist",
                              **({"cause": cause} if cause else {}))
        return Sent(None, None, "UNKNOWN_TOPIC_OR_PARTITION",
                    f"topic {topic_name!r} does not exist",
                    records[-1][3] if records else None)
    parts = topic.partitions
    n = len(parts)
    config = topic.config
    max_bytes = config["max.message.bytes"]
    min_isr = config["min.insync.replicas"] if acks == "all" else 0
    now = cluster.clock.now_ms
    out = cluster.out
    produced, acked = out.record_produced, out.record_acked
    touched: dict = {}
    first = offset = error = message = None
    seq = cluster.seq
    retrying = cluster.retrying
    code = ACKS_CODE[acks]
    for key, value, headers, partition in records:
        # ASCII text weighs its length; anything else (and bytes kept as base64, which
        # start with a NUL) is sized by record_size.
        if headers is None and value is not None and value.isascii() and (
                key is None or key.isascii()) and value[:1] != "\x00" and (
                key is None or key[:1] != "\x00"):
            size = len(value) if key is None else len(value) + len(key)
        else:
            size = record_size(key, value, headers)
        if partition is not None:
            why = {"method": "explicit"}
        elif key is not None:
            if hashes is None:
                h = key_hash(key)
            else:
                h = hashes.get(key)
                if h is None:
                    h = key_hash(key)
                    if len(hashes) < _HASH_MEMO_LIMIT:
                        hashes[key] = h
            partition = (h & 0x7FFFFFFF) % n
            why = {"method": "murmur2", "hash": h, "partitions": n}
        else:
            partition = _sticky(cluster, producer).partition(topic_name, n, size)
            why = {"method": "sticky"}
        part = parts[partition]
        if (not part.online or size > max_bytes or len(part.isr) < min_isr
                or (retrying and (producer, topic_name, partition, acks) in retrying)):
            cluster.seq = seq
            error, message = _produce_failed(
                cluster, part,
                (key, value, headers, acks, idempotent, retries, now, None, None, why),
                size, producer, cause)
            seq = cluster.seq
            offset = None
            continue
        log = part.leader_log
        offset = log.append(key, value, headers, now, size, part.leader_epoch, code)
        if first is None:
            first = offset
        single = len(part.isr) == 1
        if single:
            part.high_watermark = offset + 1
        seq += 1
        produced(seq, now, topic_name, partition, offset, key, value, part.leader, producer,
                 acks, why, part.high_watermark, headers, cause)
        if acks == "1" or (single and acks == "all"):
            seq += 1
            acked(seq, now, topic_name, partition, offset, producer, acks)
        elif acks == "all":
            part.awaiting_ack.append((offset, producer, idempotent, retries, now, why))
            if waiter is not None:
                waiter.add((topic_name, partition, offset))
        touched[part] = single
    cluster.seq = seq
    _after_appends(cluster, touched)
    # tuple.__new__ directly: a NamedTuple's own __new__ is a Python function, one more frame
    # on every produce (the fields are all given, so its defaults have nothing to add).
    return _new_tuple(Sent, (first, offset, error, message, partition if records else None))


def append_batch(cluster, part, keys: list, values: list, headers: dict | None, sizes: list,
                 create_times: list | None, acks: str, producer: str) -> int:
    """A real client's batch for one partition (clients.produce_records), appended whole as
    Kafka's leader appends a batch: the log, events and state that produce_batch with
    idempotent=False and retries=0 would make of the records one by one, at a fraction of
    its cost (the columns extend the log in C; a folding sink counts the batch at once). The
    client chose each record's partition: `why` says whether its key's murmur2 would have
    too, as Java's default partitioner. The caller has checked the partition for the batch
    (`unavailable`, with its largest record), so no record can fail; and a real client never
    has records waiting to be retried in the model. Returns the first offset."""
    topic = part.topic
    name, index = topic.name, part.index
    now = cluster.clock.now_ms
    first = part.leader_log.extend(keys, values, headers, now, sizes, part.leader_epoch,
                                   ACKS_CODE[acks], create_times)
    n = len(values)
    single = len(part.isr) == 1
    if single:
        part.high_watermark = first + n
    acked = acks == "1" or (single and acks == "all")
    seq = cluster.seq
    cluster.seq = seq + (2 * n if acked else n)
    partitions = len(topic.partitions)
    waits = acks == "all" and not single
    if waits:
        # Each record's `why` goes both in its event and in its wait for the acks: made once.
        whys = [_client_why(key, index, partitions) for key in keys]
        why = whys.__getitem__
    else:
        # A folding sink never asks for them.
        def why(i):
            return _client_why(keys[i], index, partitions)
    cluster.out.records_appended(
        seq, now, name, index, first, keys, values, headers, part.leader, producer, acks, why,
        single, acked, part.high_watermark)
    if waits:
        part.awaiting_ack.extend((first + i, producer, False, 0, now, whys[i])
                                 for i in range(n))
    _after_appends(cluster, {part: single})
    return first


def _client_why(key, partition: int, partitions: int) -> dict:
    """How a real client's record came to its partition (the `why` of record.produced)."""
    if key is None:
        return {"method": "client"}
    h = key_hash(key)
    return {"method": "client", "hash": h, "partitions": partitions,
            "murmur2": (h & 0x7FFFFFFF) % partitions == partition}


def _after_appends(cluster, touched: dict) -> None:
    """What follows appends to some partitions (``{partition: whether the HW moved with
    them}``), once per partition rather than once per record: followers fetch, readers
    wake, retention and the room's record budget look again."""
    for part, hw_moved in touched.items():
        if len(part.replicas) > 1:
            replication.schedule_follower_fetches(cluster, part)
        if hw_moved:
            for member in part.watchers:
                member.wake()
        # An append never makes the oldest record of the leader's log older (a leader's
        # log is never truncated, and timestamps grow along a log), so a pass already put
        # where that record asks (`retention_epoch`: in this leadership, not held back by a
        # not_before since) stays right, and a look would change nothing. Only
        # retention.bytes needs one after every append: the log grew. Skipping the look
        # saves about 8 % of a one-record produce command that a group reads.
        if (part.retention_epoch != part.leader_epoch
                or part.topic.config["retention.bytes"] >= 0):
            topics.schedule_retention(cluster, part)
    if touched and (cluster.config["retained.records.max"]
                    or cluster.config["retained.bytes.max"]):
        topics.enforce_record_budget(cluster)


def _sticky(cluster, producer: str) -> StickyPartitioner:
    sticky = cluster.sticky_partitioners.get(producer)
    if sticky is None:
        sticky = StickyPartitioner(cluster.rng(f"sticky/{producer}"))
        cluster.sticky_partitioners[producer] = sticky
    return sticky


# -- the producer's retries ---------------------------------------------------------------
#
# A pending record is a tuple (key, value, headers, acks, idempotent, retries left,
# first sent at, offset it was written at or None, leader epoch of that write, why).
# Records wait per (producer, topic, partition) and go out together after an exponential
# back-off, as Kafka's RecordAccumulator retries a batch, until delivery.timeout.ms.


def unavailable(cluster, part, size: int, acks: str) -> tuple[str, str] | None:
    config = part.topic.config
    if part.leader is None:
        return "LEADER_NOT_AVAILABLE", "the partition has no leader (offline)"
    if not cluster.brokers[part.leader]["up"]:
        return "NETWORK_EXCEPTION", (f"leader broker {part.leader} does not answer; the "
                                     "controller has not noticed yet")
    if not part.online:
        return "NOT_LEADER_OR_FOLLOWER", (f"broker {part.leader} has restarted and waits "
                                          "for a controller to confirm its leadership")
    if size > config["max.message.bytes"]:
        return "MESSAGE_TOO_LARGE", (f"the record is {size:,} bytes; max.message.bytes is "
                                     f"{config['max.message.bytes']:,}")
    if acks == "all" and len(part.isr) < config["min.insync.replicas"]:
        return "NOT_ENOUGH_REPLICAS", (f"the ISR has {len(part.isr)} replica(s); "
                                       "min.insync.replicas is "
                                       f"{config['min.insync.replicas']}")
    return None


def _produce_failed(cluster, part, pending: tuple, size: int, producer: str,
                    cause: dict | None = None) -> tuple:
    """A record not written now: failed, or queued to be sent again. Returns (error,
    message): why it was not written (Kafka's code, a sentence), or (None, None) when it
    only waits behind records of its producer already queued to be sent again."""
    key, value, headers, acks, _, retries, _, _, _, why = pending
    batch = cluster.retrying.get((producer, part.topic.name, part.index, acks))
    problem = unavailable(cluster, part, size, acks)
    if problem is None:
        batch.records.append(pending)  # behind the records already waiting: order holds
        return None, None  # not written yet, not failed: it goes with them
    error, message = problem
    will_retry = error in RETRIABLE and retries > 0
    if batch is None or not will_retry:
        ev.produce_failed(cluster, topic=part.topic.name, partition=part.index, key=key,
                          value=value, producer=producer, acks=acks, error=error,
                          message=message, why=why, attempt=1, retriable=error in RETRIABLE,
                          will_retry=will_retry, **({"cause": cause} if cause else {}))
    if will_retry:
        _queue_retry(cluster, part, producer, [pending])
    return error, message


def _queue_retry(cluster, part, producer: str, pending: list, first: bool = False) -> None:
    """Queue records to be sent again; `first` puts them ahead of those already waiting
    (records that were written and await an acknowledgement were sent before any record
    still waiting, so this keeps the producer's order)."""
    key = (producer, part.topic.name, part.index, pending[0][3])
    batch = cluster.retrying.get(key)
    if batch is None:
        batch = cluster.retrying[key] = _RetryBatch(producer, part.topic.name, part.index,
                                                    pending[0][3])
    if first:
        batch.records[:0] = pending
    else:
        batch.records.extend(pending)
    if batch.timer is None:
        _schedule_retry(cluster, batch)


def _schedule_retry(cluster, batch) -> None:
    backoff = min(cluster.config["retry.backoff.ms"] * 2 ** (batch.attempt - 1),
                  cluster.config["retry.backoff.max.ms"])
    batch.timer = cluster.clock.at(cluster.clock.now_ms + backoff, partial(_retry, cluster),
                                   batch)


def requeue_pending(cluster, part, error: str) -> None:
    """The leader changed: requests waiting for acks=all get `error` and are retried."""
    waiting = part.awaiting_ack
    if waiting:
        part.awaiting_ack = []
        retry_entries(cluster, part, waiting, error)


def retry_entries(cluster, part, entries: list, error: str) -> None:
    log = part.leader_log
    by_producer: dict[str, list] = {}
    for offset, producer, idempotent, retries, first_ms, why in entries:
        i = offset - log.base
        pending = (log.keys[i], log.values[i], log.headers.get(offset), "all", idempotent,
                   retries, first_ms, offset, log.epoch_at(offset), why)
        by_producer.setdefault(producer, []).append(pending)
    if cluster.ack_waiters:
        name = part.topic.name
        for entry in entries:
            waiter = cluster.ack_waiters.pop((name, part.index, entry[0]), None)
            if waiter is not None:
                waiter.failed(error)
    for producer, pending in by_producer.items():
        again = [p for p in pending if p[5] > 0]
        ev.produce_failed(cluster, topic=part.topic.name, partition=part.index,
                          producer=producer, acks="all", error=error, count=len(pending),
                          offsets=[p[7] for p in pending], retriable=True,
                          will_retry=len(again) == len(pending),
                          message="not acknowledged: the producer sends again" if again else
                          "not acknowledged, and retries are exhausted")
        if again:
            _queue_retry(cluster, part, producer, again, first=True)


def _retry(cluster, batch) -> None:
    batch.timer = None
    now = cluster.clock.now_ms
    topic = cluster.topics[batch.topic]  # deleting a topic fails its batches at once
    key = (batch.producer, batch.topic, batch.partition, batch.acks)
    part = topic.partitions[batch.partition]
    timeout = cluster.config["delivery.timeout.ms"]
    expired = [p for p in batch.records if now - p[6] >= timeout]
    if expired:
        batch.records = [p for p in batch.records if now - p[6] < timeout]
        ev.produce_failed(cluster, topic=batch.topic, partition=batch.partition,
                          producer=batch.producer, error="REQUEST_TIMED_OUT", count=len(expired),
                          keys=[p[0] for p in expired[:20]], retriable=False, will_retry=False,
                          message=f"delivery.timeout.ms ({timeout:,} ms) passed before the "
                                  "records were acknowledged: the producer gives up")
    batch.attempt += 1
    # The batch goes out in order until a record cannot go; the rest wait.
    sendable = []
    blocked = None
    for p in batch.records:
        blocked = unavailable(cluster, part, record_size(p[0], p[1], p[2]), p[3])
        if blocked is not None:
            break
        sendable.append(p)
    rest = batch.records[len(sendable):]
    if blocked is not None:
        error, message = blocked
        if error not in RETRIABLE:  # e.g. max.message.bytes was lowered meanwhile
            bad, rest = rest[0], rest[1:]
            ev.produce_failed(cluster, topic=batch.topic, partition=batch.partition,
                              producer=batch.producer, key=bad[0], value=bad[1], error=error,
                              message=message, retriable=False, will_retry=False)
        else:
            spent = [p for p in rest if p[5] <= 1]
            rest = [p[:5] + (p[5] - 1,) + p[6:] for p in rest if p[5] > 1]
            if spent:
                ev.produce_failed(cluster, topic=batch.topic, partition=batch.partition,
                                  producer=batch.producer, error=error, count=len(spent),
                                  keys=[p[0] for p in spent[:20]], retriable=True,
                                  will_retry=False,
                                  message="retries exhausted: the producer reports the error")
            if rest:
                ev.produce_failed(cluster, topic=batch.topic, partition=batch.partition,
                                  producer=batch.producer, error=error, message=message,
                                  count=len(rest), attempt=batch.attempt, retriable=True,
                                  will_retry=True)
    batch.records = rest
    if rest:
        _schedule_retry(cluster, batch)
    else:
        del cluster.retrying[key]
    if sendable:
        _resend(cluster, part, batch.producer, sendable, batch.attempt)


def _resend(cluster, part, producer: str, sendable: list, attempt: int) -> None:
    log = part.leader_log
    name, index = part.topic.name, part.index
    now = cluster.clock.now_ms
    touched = {}
    for key, value, headers, acks, idempotent, retries, first_ms, offset, epoch, why \
            in sendable:
        written = (offset is not None and log.start_offset <= offset < log.end_offset
                   and log.epoch_at(offset) == epoch)
        if written and idempotent:
            # The broker knows this producer id and sequence number: it answers with the
            # first write's offset instead of appending again.
            ev.record_deduplicated(
                cluster, topic=name, partition=index, offset=offset, producer=producer,
                attempt=attempt, reason="idempotent producer: this sequence number is already "
                                        "in the log")
            if offset < part.high_watermark:
                cluster.out.record_acked(cluster.next_seq(), now, name, index, offset,
                                         producer, acks)
            else:
                _await_ack(part, (offset, producer, idempotent, retries - 1,
                                  first_ms, why))
            continue
        size = record_size(key, value, headers)
        new = log.append(key, value, headers, now, size, part.leader_epoch, ACKS_CODE[acks])
        single = len(part.isr) == 1
        touched[part] = single
        if single:
            part.high_watermark = new + 1
        cluster.out.record_produced(
            cluster.next_seq(), now, name, index, new, key, value, part.leader, producer, acks,
            why or {"method": "explicit"}, part.high_watermark, headers, None,
            {"attempt": attempt, "first_offset": offset}, offset if written else None)
        if acks == "1" or (single and acks == "all"):
            cluster.out.record_acked(cluster.next_seq(), now, name, index, new, producer, acks)
        elif acks == "all":
            _await_ack(part, (new, producer, idempotent, retries - 1, first_ms, why))
    _after_appends(cluster, touched)


def _await_ack(part, entry: tuple) -> None:
    waiting = part.awaiting_ack
    if not waiting or waiting[-1][0] < entry[0]:
        waiting.append(entry)
    else:
        insort(waiting, entry, key=lambda e: e[0])


# -- producer workloads -------------------------------------------------------------------


def producer_add(cluster, c: dict) -> None:
    v.check_fields(c, frozenset({"type", "id", "topic", "rate_per_s", "keys", "acks",
                                 "value", "value_bytes", "idempotent", "retries"}))
    pid = v.identifier(c, "id", what="producer id")
    if pid in cluster.producers:
        raise CommandError("id", f"a producer {pid!r} is already running")
    topic = topics.existing_topic(cluster, c, "topic")
    rate = v.number(c, "rate_per_s", minimum=MIN_RATE_PER_S, maximum=MAX_RATE_PER_S)
    keys = parse_keys(c.get("keys", {"kind": "sequence"}))
    acks = v.acks(c, default="all")
    idempotent, retries = _delivery(c, acks)
    value = v.string(c, "value", default="{key}", max_length=10_000)
    value_bytes = v.integer(c, "value_bytes", default=None, minimum=0, maximum=1_000_000)
    spec = {"id": pid, "topic": topic.name, "rate_per_s": rate, "keys": keys, "acks": acks,
            "value": value, "value_bytes": value_bytes, "idempotent": idempotent,
            "retries": retries}
    workload = ProducerWorkload(spec, cluster.clock.now_ms, cluster.rng(f"producer/{pid}"))
    cluster.producers[pid] = workload
    ev.producer_added(cluster, producer=pid, topic=topic.name, rate_per_s=rate,
                      keys=keys, acks=acks)
    workload.timer = cluster.clock.at(cluster.clock.now_ms, partial(_producer_tick, cluster),
                                      workload)


def _producer_tick(cluster, workload: ProducerWorkload) -> None:
    workload.timer = None
    now = cluster.clock.now_ms
    next_key = workload.key_source.key
    make_value = workload.make_value
    first = workload.sent
    due = workload.due_by(now)
    records = []
    for n in range(first, due):
        key = next_key(n)
        records.append((key, make_value(n, key), None, None))
    workload.sent = due
    spec = workload.spec
    produce_batch(cluster, workload.topic, records, workload.acks, workload.id,
                  workload.hashes, spec["idempotent"], spec["retries"])
    workload.timer = cluster.clock.at(workload.due_ms(due), partial(_producer_tick, cluster),
                                      workload)


def producer_remove(cluster, c: dict) -> None:
    v.check_fields(c, frozenset({"type", "id"}))
    pid = v.identifier(c, "id", what="producer id")
    workload = cluster.producers.get(pid)
    if workload is None:
        raise CommandError("id", f"no producer {pid!r} is running")
    if workload.timer is not None:
        workload.timer.cancel()
    del cluster.producers[pid]
    ev.producer_removed(cluster, producer=pid, sent=workload.sent)


HANDLERS = {
    "produce": produce_command,
    "producer.add": producer_add,
    "producer.remove": producer_remove,
}
