"""Frames: the batches a room sends its viewers, bounded in count and bytes.

A frame covers a contiguous range of sequence numbers ``from_seq..to_seq`` and is serialised
once, by the room, then relayed as text by every viewer's consumer (one channel-layer message per
frame per room, never one per event). When a range holds more than a frame may carry, the frame
still covers all of it: it carries every "structural" event (topics, brokers, groups, elections:
rare and what the lesson is about) and as many of the high-volume per-record events as fit, and
folds the rest into per-partition aggregates marked ``"aggregated": true``. So a viewer always
knows what it missed; nothing is dropped silently.
"""

from broker_core.events import BULK
from playground.jsontext import dumps

MAX_FRAME_EVENTS = 400  # 20 frames/s x 400 = 8,000 events/s reach a viewer one by one
MAX_FRAME_BYTES = 192 * 1024  # well under what a channel layer message should carry
MAX_EVENT_BYTES = 16 * 1024  # one event's JSON; a bigger value is cut (see _trimmed)
MAX_STRUCTURAL_EVENTS = 300  # even rare events can come in floods (a 1,000-partition topic)
VALUE_PREVIEW_CHARS = 1_000

# The per-record stream: what a busy producer multiplies. Everything else is structural.
# The model's per-record types (events.BULK), and those a failing or expiring stream also
# multiplies (structural to the model, which builds them one by one, but not to a frame).
BULK_TYPES = frozenset(BULK) | {"record.expired", "record.failed", "record.retry_scheduled",
                                "produce.failed"}


def cut_value(record: dict, chars: int) -> dict:
    """`record` (an event, a snapshot's cell) with its value cut to `chars`, saying so the
    way the page reads it: ``value_truncated`` and the whole length in ``value_chars``."""
    value = record.get("value")
    if isinstance(value, str) and len(value) > chars:
        record["value"] = value[:chars]
        record["value_truncated"] = True
        record["value_chars"] = len(value)
    return record


def _trimmed(event: dict) -> dict:
    """The event with its value cut to a preview, for an event too large to send whole."""
    out = cut_value(dict(event), VALUE_PREVIEW_CHARS)
    if len(dumps(out)) > MAX_EVENT_BYTES:
        out.pop("headers", None)
    return out


def _aggregate(aggs: dict, event: dict) -> None:
    key = (event["type"], event.get("topic"), event.get("partition"), event.get("group"))
    agg = aggs.get(key)
    seq = event["seq"]
    if agg is None:
        agg = {"type": event["type"], "topic": event.get("topic"),
               "partition": event.get("partition"), "count": 0,
               "first_offset": None, "last_offset": None,
               "first_seq": seq, "last_seq": seq, "aggregated": True}
        if event.get("group") is not None:
            agg["group"] = event["group"]
        aggs[key] = agg
    agg["count"] += 1
    agg["last_seq"] = seq
    offset = event.get("offset")
    if isinstance(offset, int):
        if agg["first_offset"] is None:
            agg["first_offset"] = offset
        agg["last_offset"] = offset
    if "high_watermark" in event:
        agg["high_watermark"] = event["high_watermark"]


def _merge(aggs: dict, folded: dict) -> None:
    """An aggregate the model folded already (broker_core.events.Folding: the room had a full
    frame's worth waiting) joins the frame's own, which come before it in seq."""
    key = (folded["type"], folded.get("topic"), folded.get("partition"), folded.get("group"))
    agg = aggs.get(key)
    if agg is None:
        aggs[key] = {k: v for k, v in folded.items() if k != "last_t_ms"}
        return
    agg["count"] += folded["count"]
    agg["first_seq"] = min(agg["first_seq"], folded["first_seq"])
    agg["last_seq"] = max(agg["last_seq"], folded["last_seq"])
    if folded["last_offset"] is not None:
        if agg["first_offset"] is None:
            agg["first_offset"] = folded["first_offset"]
        agg["last_offset"] = folded["last_offset"]
    if "high_watermark" in folded:
        agg["high_watermark"] = folded["high_watermark"]


def build_frame(events: list[dict], from_seq: int, clock: dict, wall_ms: int,
                max_events: int = MAX_FRAME_EVENTS, max_bytes: int = MAX_FRAME_BYTES,
                room: dict | None = None) -> tuple[str, int, dict]:
    """Serialise one frame covering `events` (contiguous, starting at `from_seq`). An entry
    marked ``aggregated`` is a run of per-record events the model already folded into counts
    (events.Folding): it covers its ``count`` seq numbers and goes out as an aggregate.

    `room` holds the room's shared state every frame carries beside its clock (narration
    step, viewer count, changed figures); it counts against `max_bytes` like the rest.
    Returns (text, to_seq, stats). An empty `events` makes a clock-only frame with
    ``to_seq = from_seq - 1``. `stats` says how many events were sent whole and aggregated.
    """
    folded = [e for e in events if "aggregated" in e]
    if folded:
        events = [e for e in events if "aggregated" not in e]
        covered = len(events) + sum(a["count"] for a in folded)
        first = min([a["first_seq"] for a in folded] + [e["seq"] for e in events[:1]])
        to_seq = max([a["last_seq"] for a in folded] + [e["seq"] for e in events[-1:]])
    else:
        covered = len(events)
        first = events[0]["seq"] if events else from_seq
        to_seq = events[-1]["seq"] if events else from_seq - 1
    # A frame must never claim a range it does not hold: the room hands over what it took.
    assert not covered or (first == from_seq and to_seq - from_seq + 1 == covered), \
        "events not contiguous"
    head = dumps({"type": "frame", **(room or {}), "from_seq": from_seq, "to_seq": to_seq,
                   "clock": clock, "wall_ms": wall_ms})[:-1]
    budget = max_bytes - len(head) - 64
    # Structural events first: they claim their room in the budget before the bulk does.
    keep = [False] * len(events)
    dumped: list[str | None] = [None] * len(events)
    count = 0
    structural = 0
    for i, event in enumerate(events):
        if event["type"] in BULK_TYPES or structural >= MAX_STRUCTURAL_EVENTS:
            continue
        text = dumps(event)
        if len(text) > MAX_EVENT_BYTES:
            text = dumps(_trimmed(event))
        if len(text) + 1 > budget or len(text) > MAX_EVENT_BYTES:
            continue
        keep[i], dumped[i] = True, text
        budget -= len(text) + 1
        count += 1
        structural += 1
    # The bulk, in order, while it fits. Aggregates need room too: keep a reserve for them.
    reserve = 16 * 1024
    for i, event in enumerate(events):
        if keep[i] or event["type"] not in BULK_TYPES:
            continue
        if count >= max_events or budget <= reserve:
            break
        text = dumps(event)
        if len(text) > MAX_EVENT_BYTES:
            text = dumps(_trimmed(event))
        if len(text) + 1 > budget - reserve or len(text) > MAX_EVENT_BYTES:
            break
        keep[i], dumped[i] = True, text
        budget -= len(text) + 1
        count += 1
    aggs: dict = {}
    for i, event in enumerate(events):
        if not keep[i]:
            _aggregate(aggs, event)
    for agg in folded:
        _merge(aggs, agg)
    agg_list = list(aggs.values())
    agg_text = dumps(agg_list)
    if len(agg_text) > reserve + max(budget, 0):
        # Pathological spread (thousands of partitions at once): fold aggregates by type.
        by_type: dict = {}
        for agg in agg_list:
            t = by_type.setdefault(agg["type"], {"type": agg["type"], "count": 0,
                                                  "first_seq": agg["first_seq"],
                                                  "last_seq": agg["last_seq"],
                                                  "aggregated": True})
            t["count"] += agg["count"]
            t["first_seq"] = min(t["first_seq"], agg["first_seq"])
            t["last_seq"] = max(t["last_seq"], agg["last_seq"])
        agg_list = list(by_type.values())
        agg_text = dumps(agg_list)
    body = ",".join(text for text in dumped if text is not None)
    text = f'{head},"events":[{body}],"aggregates":{agg_text}}}'
    stats = {"sent": count, "aggregated": covered - count}
    return text, to_seq, stats
