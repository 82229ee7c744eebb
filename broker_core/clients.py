"""What real Kafka clients do to the model (the wire listener in playground/kafka drives it).

A real producer has already chosen the partition and batched its records; it retries by itself.
So its batch is one command, ``produce.records``: one topic-partition, the records in order,
appended all or nothing, never retried inside the model (retries=0), and failures are events
(``produce.failed`` with Kafka's error name) like any producer's, so the page shows them. The
answer the client waits for is read from the events: ``record.produced`` gives the offsets,
``record.acked`` of the last record the acknowledgement (at once for acks=1, when the high
watermark passes it for acks=all), ``produce.failed`` naming the batch's offsets a failure.

Idempotent producers (KIP-98): a batch carrying a producer id and a base sequence is checked as
Kafka's leader checks it against the producer's last five batches on that partition: the same
batch again (a retry after a lost answer) is not appended but answered with its first write's
offsets (``produce.deduplicated``); a gap in the sequence is OUT_OF_ORDER_SEQUENCE_NUMBER; an
older epoch is INVALID_PRODUCER_EPOCH. Producer ids come from ``producer.init_id``
(InitProducerId), numbered from 0 per cluster.

Reads (`read_records`, `offset_for`) are plain methods: they change nothing and never enter the
command log. Timestamps are the model's: the time the leader appended the record (Kafka's
``message.timestamp.type=LogAppendTime``); the client's own timestamps are not kept.
"""

from . import events as ev
from . import validate as v
from .errors import CommandError
from .log import record_size

MAX_CLIENT_NAME = 200
MAX_BATCH_RECORDS = 100_000
PRODUCER_WINDOW = 5  # batches per producer and partition a leader remembers (Kafka: 5)
INT32_MAX = 2**31 - 1
_RECORD_TYPES = (list, tuple)


class Records(tuple):
    """A batch's records, immutable once built: `Cluster.request` copies every command into
    the command log (`_copy_command`), and copying a batch record by record (lists, dicts)
    would cost as much as appending it. Nothing ever changes a record (the logs keep the same
    strings and header dicts), so the copy shares this one. Its records are tuples (see
    `_records`). JSON writes both as lists; a replayed log's plain lists are accepted
    alike."""

    __slots__ = ()

    def __deepcopy__(self, memo):
        return self


def client_name(c: dict) -> str | None:
    """The optional ``client`` field: who sent a command (``"<client.id>@<host:port>"``)."""
    client = c.get("client")
    if client is None:
        return None
    if not isinstance(client, str) or not client or len(client) > MAX_CLIENT_NAME:
        raise CommandError("client", f"must be a non-empty string of at most "
                           f"{MAX_CLIENT_NAME} characters")
    if not client.isprintable():
        raise CommandError("client", "must be printable text")
    return client


def _records(c: dict) -> tuple[list, list, dict | None, list[int] | None, list[int]]:
    """The batch's records as columns, as producing.append_batch takes them: keys, values,
    headers ({index: headers} for the records that have any, or None), each record's create
    time when the client stamped them (Kafka's CreateTime: wall-clock ms, kept as the client
    set it), and each record's size (log.record_size)."""
    records = c.get("records")
    if not isinstance(records, (list, Records)) or not records:
        raise CommandError("records", "must be a non-empty list of [key, value, headers]")
    if len(records) > MAX_BATCH_RECORDS:
        raise CommandError("records", f"at most {MAX_BATCH_RECORDS:,} records in one batch")
    keys, values, sizes = [], [], []
    headers_at = None
    # A record is a list in JSON; a host's batch (Records) holds tuples, which the garbage
    # collector stops tracking once it has seen them hold only strings and numbers: a room
    # keeps every command, and a million tracked records made each full collection a
    # third of a second.
    width = len(records[0]) if type(records[0]) in _RECORD_TYPES else 0
    times = [] if width == 4 else None
    for i, rec in enumerate(records):
        if type(rec) not in _RECORD_TYPES or len(rec) != width or width not in (3, 4):
            raise CommandError(f"records[{i}]", "must be [key, value, headers] or, in every "
                               "record of the batch, [key, value, headers, timestamp_ms]")
        if times is not None:
            ts = rec[3]
            if not isinstance(ts, int) or isinstance(ts, bool) or not -1 <= ts < 2**63:
                raise CommandError(f"records[{i}].timestamp_ms", "must be an integer from -1 "
                                   "(Kafka's no timestamp) to 2^63-1")
            times.append(ts)
        key, value, headers = rec[0], rec[1], rec[2]  # no slice: a list less per record
        if key is not None and (not isinstance(key, str) or len(key) > v.MAX_KEY_CHARS):
            raise CommandError(f"records[{i}].key", "must be null or a string of at most "
                               f"{v.MAX_KEY_CHARS:,} characters")
        if value is not None and (not isinstance(value, str) or len(value) > v.MAX_VALUE_CHARS):
            raise CommandError(f"records[{i}].value", "must be null or a string of at most "
                               f"{v.MAX_VALUE_CHARS:,} characters")
        keys.append(key)
        values.append(value)
        if headers is not None:  # most records have none: no reader call then
            headers = v.headers(headers, f"records[{i}].headers", empty_names=True)
            if headers_at is None:
                headers_at = {}
            headers_at[i] = headers
            sizes.append(record_size(key, value, headers))
        # ASCII text weighs its length (the common case, written out: a call per record
        # costs as much as the rest); anything else, and bytes kept as base64 behind their
        # NUL mark, is sized by record_size.
        elif value is not None and value.isascii() and value[:1] != "\x00" and (
                key is None or key.isascii() and key[:1] != "\x00"):
            sizes.append(len(value) if key is None else len(value) + len(key))
        else:
            sizes.append(record_size(key, value, None))
    return keys, values, headers_at, times, sizes


def _log_marks(part) -> dict:
    return {"log_start_offset": part.leader_log.start_offset,
            "high_watermark": part.high_watermark}


def produce_records(cluster, c: dict) -> dict:
    """A real client's batch for one partition. Answer: {"base_offset", "last_offset",
    "log_start_offset", "high_watermark"} when written (or already in the log: then also
    "deduplicated": True), else {"error", "message"} with Kafka's error code. Whether an
    acks=all batch is acknowledged comes later, as partition.high_watermark events."""
    v.check_fields(c, frozenset({"type", "topic", "partition", "acks", "client", "records",
                                 "producer_id", "producer_epoch", "base_sequence",
                                 "batch_bytes"}))
    topic = cluster.existing_topic(c, "topic")
    partition = v.integer(c, "partition", minimum=0)
    if partition >= len(topic.partitions):
        raise CommandError("partition", f"topic {topic.name!r} has partitions 0 to "
                           f"{len(topic.partitions) - 1}; there is no partition {partition}")
    acks = v.acks(c)
    client = client_name(c)
    if client is None:
        raise CommandError("client", "is required")
    keys, values, headers, times, sizes = _records(c)
    # The batch's size on the wire: Kafka holds a v2 batch, not each record, to
    # max.message.bytes (the records' own sizes when a host does not say).
    batch_bytes = v.integer(c, "batch_bytes", default=None, minimum=1, maximum=2**31 - 1)
    pid = v.integer(c, "producer_id", default=-1, minimum=-1, maximum=2**63 - 1)
    epoch = v.integer(c, "producer_epoch", default=-1, minimum=-1, maximum=32_767)
    base_seq = v.integer(c, "base_sequence", default=-1, minimum=-1, maximum=INT32_MAX)
    part = topic.partitions[partition]
    n = len(values)
    failed = {"topic": topic.name, "partition": partition, "producer": client,
              "acks": acks, "count": n, "retriable": True, "will_retry": False}
    largest = max(sizes)
    if batch_bytes is not None:
        largest = max(largest, batch_bytes)
    problem = cluster.unavailable(part, largest, acks)
    if problem is not None:
        error, message = problem
        if error == "NETWORK_EXCEPTION":
            error = "NOT_LEADER_OR_FOLLOWER"  # the wire never reaches a stopped broker
        if error == "MESSAGE_TOO_LARGE":
            failed["retriable"] = False
        ev.produce_failed(cluster, **failed, error=error, message=message)
        return {"error": error, "message": message}
    window = None
    if pid >= 0 and base_seq >= 0:
        window = cluster.producer_sequences.setdefault((pid, topic.name, partition), [])
        # The leader knows only batches its log still holds: a leader change may have cut
        # some away (they were never acknowledged), and then they may be sent again.
        log = part.leader_log
        window[:] = [w for w in window if w[3] + (w[2] - w[1]) < log.end_offset
                     and w[3] >= log.start_offset and log.epoch_at(w[3]) == w[4]]
        last_seq = base_seq + n - 1
        for w_epoch, first, last, base_offset, _ in window:
            if w_epoch == epoch and first == base_seq and last == last_seq:
                ev.produce_deduplicated(
                    cluster, topic=topic.name, partition=partition, producer=client,
                    producer_id=pid, base_sequence=base_seq, base_offset=base_offset, count=n,
                    acks=acks, reason="idempotent producer: this batch's sequence numbers are "
                                      "already in the log")
                return {"base_offset": base_offset, "last_offset": base_offset + n - 1,
                        "deduplicated": True, **_log_marks(part)}
        if window:
            newest_epoch, _, newest_last, _, _ = window[-1]
            if epoch < newest_epoch:
                message = f"producer epoch {epoch} is older than {newest_epoch}"
                ev.produce_failed(cluster, **failed, error="INVALID_PRODUCER_EPOCH",
                                  message=message)
                return {"error": "INVALID_PRODUCER_EPOCH", "message": message}
            expected = newest_last + 1 if epoch == newest_epoch else 0
            if base_seq != expected:
                message = f"expected sequence {expected}, got {base_seq}"
                ev.produce_failed(cluster, **failed, error="OUT_OF_ORDER_SEQUENCE_NUMBER",
                                  message=message)
                return {"error": "OUT_OF_ORDER_SEQUENCE_NUMBER", "message": message}
    # Every check the leader makes of each record has been made for the batch (unavailable,
    # with its largest record): it is appended whole.
    first = cluster.append_batch(part, keys, values, headers, sizes, times, acks, client)
    if window is not None:
        window.append((epoch, base_seq, base_seq + n - 1, first, part.leader_epoch))
        del window[:-PRODUCER_WINDOW]
    return {"base_offset": first, "last_offset": first + n - 1, **_log_marks(part)}


def producer_init_id(cluster, c: dict) -> dict:
    """Answer: {"producer_id", "producer_epoch"}."""
    v.check_fields(c, frozenset({"type", "client", "transactional_id", "producer_id",
                                 "producer_epoch"}))
    client = client_name(c)
    if c.get("transactional_id") is not None:
        raise CommandError("transactional_id", "transactions are not modelled; only "
                           "idempotent producers (no transactional.id)")
    pid = v.integer(c, "producer_id", default=-1, minimum=-1, maximum=2**63 - 1)
    epoch = v.integer(c, "producer_epoch", default=-1, minimum=-1, maximum=32_767)
    if pid >= 0:
        # KIP-360: a producer that lost track of its sequences bumps its epoch.
        if pid >= cluster.next_producer_id:
            raise CommandError("producer_id", f"no producer id {pid} was ever given out")
        epoch = epoch + 1 if epoch < 32_767 else 0
    else:
        pid, epoch = cluster.next_producer_id, 0
        cluster.next_producer_id += 1
    ev.producer_id_assigned(cluster, producer_id=pid, producer_epoch=epoch,
                            **({"client": client} if client else {}))
    return {"producer_id": pid, "producer_epoch": epoch}


HANDLERS = {
    "produce.records": produce_records,
    "producer.init_id": producer_init_id,
}
