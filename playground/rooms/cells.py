"""The records a snapshot carries, so a page that joins late draws what a watching page draws.

A page keeps each partition's newest records as cells (static/playground/model.js: at most
CELLS_PER_PARTITION, 2 x its CELL_WINDOW) and colours each by its key; a record it never saw is
drawn hollow. A snapshot therefore carries, per partition, the newest records of the leader's
log (oldest first, under ``records``), plus any record a consumer has in hand, so a page that
connects, reloads or opens a fork draws the same cells, and the consumer chips the same keys, as
a page that watched from the start. Nothing here changes the model or its events: it reads the
logs through `Log.record` and `Log.acks_at`.

Bounded whatever the room holds: values and header values are cut to a preview (the original
length noted, as frames.py does for a large event), and all records together stay under
RECORDS_BYTES_MAX, filled a depth at a time (every partition's newest record, then every
partition's second newest, ...), so under pressure each partition keeps its newest cells and
what is left out is drawn as "counted, not drawn", as after an aggregate. Worst case under the
room quotas (PLAYGROUND_ROOM_PARTITIONS_MAX = 300): 300 x 32 = 9,600 records of up to ~1.5 KB,
which the budget caps at about 1 MiB (two 512 KiB snapshot parts); a typical scenario's six
partitions take a few kilobytes.
"""

from broker_core.log import header_pairs
from playground.jsontext import ascii_dumps

from .frames import cut_value

CELLS_PER_PARTITION = 32  # the most cells a lane draws (model.js: CELL_WINDOW * 2)
VALUE_PREVIEW_CHARS = 100  # a cell needs only the key; the inspector shows a preview
# A key is sent whole up to this, since the page colours a cell by a hash of the whole key; a
# longer one is cut (its colour may then differ from a watching page's, which is the price of
# a bound: no scenario's keys come near it).
KEY_CHARS_MAX = 256
HEADERS_CHARS_MAX = 1_000  # a record's headers, after each value is cut; beyond, left out
RECORDS_BYTES_MAX = 1024 * 1024  # all records of one snapshot, as JSON


# ASCII-escaped, its length is an upper bound on the UTF-8 bytes of the snapshot's own text (a
# character is at most 4 bytes there, 6 or 12 escaped here), so the budget holds in bytes.
_size_of = ascii_dumps


def _cut(text, limit: int):
    return text[:limit] if isinstance(text, str) and len(text) > limit else text


def cell(log, offset: int) -> dict:
    """One record as a snapshot carries it: offset, key, value preview, timestamp, acks,
    headers; `value_truncated`/`value_chars` (as in a frame's trimmed event), `key_chars`, or
    `headers_omitted` (how many) say what was cut."""
    rec = log.record(offset)
    out = {"offset": offset, "key": rec["key"], "value": rec["value"],
           "timestamp_ms": rec["timestamp_ms"], "acks": log.acks_at(offset)}
    key, headers = rec["key"], rec["headers"]
    if isinstance(key, str) and len(key) > KEY_CHARS_MAX:
        out["key"] = key[:KEY_CHARS_MAX]
        out["key_chars"] = len(key)
    cut_value(out, VALUE_PREVIEW_CHARS)
    if headers:
        pairs = [(_cut(name, VALUE_PREVIEW_CHARS), _cut(v, VALUE_PREVIEW_CHARS))
                 for name, v in header_pairs(headers)]
        # A name sent twice stays a list of pairs (Kafka keeps both), as the model keeps it.
        cut = dict(pairs) if isinstance(headers, dict) else [list(p) for p in pairs]
        if len(_size_of(cut)) <= HEADERS_CHARS_MAX:
            out["headers"] = cut
        else:
            out["headers_omitted"] = len(headers)
    return out


def newest_records(cluster, per_partition: int = CELLS_PER_PARTITION,
                   bytes_max: int = RECORDS_BYTES_MAX) -> dict:
    """{(topic, partition): [cell, ...] oldest first}: each partition's newest records in its
    leader's log, and the records consumers have in hand, within `bytes_max` of JSON."""
    parts = [part for name in sorted(cluster.topics) for part in cluster.topics[name].partitions]
    out = {part: {} for part in parts}  # by identity: a deleted topic's partition is not here
    budget = bytes_max

    def take(part, offset) -> bool:
        nonlocal budget
        got = out.get(part)
        log = part.leader_log
        if got is None or offset in got or not log.start_offset <= offset < log.end_offset:
            return True
        rec = cell(log, offset)
        size = len(_size_of(rec)) + 1
        if size > budget:
            return False
        budget -= size
        got[offset] = rec
        return True

    # What a consumer chip shows first: the record in each consumer's hands (a lagging
    # consumer's may be older than the newest cells). One per consumer.
    for group in cluster.groups.values():
        for member in getattr(group, "members", {}).values():
            held = getattr(member, "in_flight", None)
            if held is not None and not take(held[0], held[1]):
                break
    full = False
    for depth in range(per_partition):
        for part in parts:
            log = part.leader_log
            offset = log.end_offset - 1 - depth
            if offset >= log.start_offset and not take(part, offset):
                full = True
                break
        if full:
            break
    return {(part.name, part.index): [got[o] for o in sorted(got)] for part, got in out.items()}


def add_records(state: dict, cluster, **kwargs) -> dict:
    """Put `newest_records` into a `Cluster.snapshot()`'s partitions (as ``records``)."""
    records = newest_records(cluster, **kwargs)
    for name, topic in state["topics"].items():
        for p in topic["partitions"]:
            p["records"] = records.get((name, p["partition"]), [])
    return state

