"""What a room's page starts from besides its live state: the produce form's first values and
the order topics and groups are drawn in.

Both come from the scenario, never from the page's own guesses: a form that offered `order-17`
in the YouTube story (or in every story) taught the wrong key, and a page that drew topics by
name showed the scenario's pipeline in an order its author did not write. They are computed
here, server-side, and go into the page's bootstrap (`Rooms.page`, `views.room_page`).
"""

import math
import re

from broker_core.errors import CommandError
from broker_core.producer import parse_keys

# A story with neither producers nor a produce command in its timeline: a key and value that
# say nothing about any story rather than another story's.
NEUTRAL_KEY = "key-1"
NEUTRAL_VALUE = "hello"
ACKS = ("0", "1", "all")
TRAILING_NUMBER = re.compile(r"^(.*?)(\d+)$")


def produce_defaults(spec) -> dict:
    """``{"topic", "key", "value", "acks"}`` for the produce form of a room running `spec`.

    From the scenario's first producer: its topic and acks, the key its key pattern gives the
    first record it will never send (a sequence's ``{prefix}{start + count}``: the learner's
    record stands apart from the producer's), the value its template renders for that record.
    Without producers, from the timeline's last ``produce`` command (its key's number plus one).
    Otherwise neutral: ``key-1`` / ``hello`` on the scenario's first topic. `topic` is None
    when the scenario has no topic at the start; `key` is "" for a producer without keys.
    """
    spec = spec if isinstance(spec, dict) else {}
    topics = [t.get("name") for t in spec.get("topics") or [] if isinstance(t, dict)]
    neutral = {"topic": topics[0] if topics else None, "key": NEUTRAL_KEY,
               "value": NEUTRAL_VALUE, "acks": "all"}
    producers = [p for p in spec.get("producers") or [] if isinstance(p, dict)]
    try:
        if producers:
            return _from_producer(producers[0], spec)
        produced = [entry["command"] for entry in spec.get("timeline") or []
                    if isinstance(entry, dict) and isinstance(entry.get("command"), dict)
                    and entry["command"].get("type") == "produce"]
        if produced:
            return _after(produced[-1], neutral)
    except (CommandError, KeyError, TypeError, ValueError, OverflowError):
        pass  # a spec the room accepted but this reading does not: the neutral form will do
    return neutral


def _acks(value) -> str:
    acks = "all" if value in (None, "-1", -1) else str(value)
    return acks if acks in ACKS else "all"


def _records_sent(producer: dict, spec: dict) -> int:
    """How many records the producer sends in the story: its count, or as many as fall due
    before it stops (its stop_ms, else the scenario's duration); 0 if it never stops."""
    count = producer.get("count")
    if isinstance(count, int) and not isinstance(count, bool):
        return count
    end = producer.get("stop_ms") or spec.get("duration_ms")
    rate = producer.get("rate_per_s")
    if not isinstance(end, int) or not isinstance(rate, int | float):
        return 0
    return max(0, math.ceil((end - (producer.get("start_ms") or 0)) * rate / 1000))


def _from_producer(producer: dict, spec: dict) -> dict:
    keys = parse_keys(producer.get("keys", {"kind": "sequence"}))
    n = _records_sent(producer, spec)
    if keys["kind"] == "sequence":
        key = f"{keys['prefix']}{keys['start'] + n}"
    elif keys["kind"] == "null":
        key = ""
    else:
        # Keys drawn from a set repeat: the first of them shows a key meeting its own past.
        key = keys["values"][0] if keys.get("values") else f"{keys['prefix']}{keys['start']}"
    template = producer.get("value")
    template = template if isinstance(template, str) else "{key}"
    # As the producer renders it (broker_core.producer): {n} counts from 1, {key} is the key.
    value = template.replace("{n}", str(n + 1)).replace("{key}", key)
    return {"topic": producer.get("topic"), "key": key, "value": value,
            "acks": _acks(producer.get("acks"))}


def _after(command: dict, neutral: dict) -> dict:
    """The next record after the timeline's `command`: its topic, value and acks, its key's
    trailing number plus one (like-4 -> like-5; a key without a number is kept)."""
    key = command.get("key")
    value = command.get("value")
    value = value if isinstance(value, str) else neutral["value"]
    if isinstance(key, str):
        match = TRAILING_NUMBER.match(key)
        if match:
            following = f"{match.group(1)}{int(match.group(2)) + 1}"
            value = value.replace(key, following)  # "order 7 placed" names its key: follow it
            key = following
    else:
        key = ""
    topic = command.get("topic")
    return {"topic": topic if isinstance(topic, str) else neutral["topic"], "key": key,
            "value": value, "acks": _acks(command.get("acks"))}


def creation_order(cluster) -> dict:
    """``{"topics": [...], "groups": [...]}`` in the order the cluster made them: the
    scenario's order, then whatever came later. (Its snapshot lists both by name, which is
    what a model's snapshot should do; the page draws in this order instead.)"""
    return {"topics": list(getattr(cluster, "topics", None) or ()),
            "groups": list(getattr(cluster, "groups", None) or ())}
