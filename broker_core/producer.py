"""Producer workloads: records produced at a steady rate on the virtual clock.

A workload sends ``rate_per_s`` records a second. Record n (counting from 0) is due at
``started + ceil(n * 1000 / rate_per_s)`` ms, so the rate is exact over any window, and at high
rates one clock action sends every record due in that millisecond rather than one action each.

Keys are drawn by a `KeySource`, seeded from the cluster seed and the producer's id:
- ``{"kind": "sequence", "prefix": "order-", "start": 1}``: order-1, order-2, ...
- ``{"kind": "uniform", "prefix": "user-", "count": 100}`` or ``{"kind": "uniform",
  "values": ["a", "b"]}``: each key equally likely
- ``{"kind": "hot", "prefix": "item-", "count": 100, "hot_keys": 2, "hot_share": 0.8}``: a few hot
  keys take most of the traffic (a skewed partition to look at)
- ``{"kind": "null"}``: no key, so the sticky partitioner spreads records by batch
"""

import math
import random

from . import validate as v
from .errors import CommandError

# One record every ~17 minutes at the least; at the most, a rate one process can model for
# a classroom (a day at this rate is already 8.6 billion records: hosts advance in slices).
MIN_RATE_PER_S = 0.001
MAX_RATE_PER_S = 100_000
KEY_KINDS = ("sequence", "uniform", "hot", "null")


class KeySource:
    __slots__ = ("kind", "prefix", "start", "count", "values", "hot_keys", "hot_share", "_rng")

    def __init__(self, spec: dict, rng: random.Random):
        self.kind = spec["kind"]
        self.prefix = spec.get("prefix", "key-")
        self.start = spec.get("start", 1)
        self.values = spec.get("values")
        self.count = len(self.values) if self.values else spec.get("count", 10)
        self.hot_keys = spec.get("hot_keys", 1)
        self.hot_share = spec.get("hot_share", 0.8)
        self._rng = rng

    def key(self, n: int) -> str | None:
        kind = self.kind
        if kind == "sequence":
            return f"{self.prefix}{self.start + n}"
        if kind == "null":
            return None
        if kind == "uniform":
            i = self._rng.randrange(self.count)
        else:
            if self._rng.random() < self.hot_share:
                i = self._rng.randrange(self.hot_keys)
            else:
                i = self.hot_keys + self._rng.randrange(self.count - self.hot_keys)
        if self.values:
            return self.values[i]
        return f"{self.prefix}{self.start + i}"


def parse_keys(raw) -> dict:
    """Validate a key spec (also accepts the shorthands "sequence", "null" and null)."""
    if raw is None or raw == "null":
        return {"kind": "null"}
    if isinstance(raw, str):
        raw = {"kind": raw}
    if not isinstance(raw, dict):
        raise CommandError("keys", "must be an object such as {\"kind\": \"sequence\", "
                                   "\"prefix\": \"order-\"}")
    v.check_fields(raw, frozenset({"kind", "prefix", "start", "count", "values", "hot_keys",
                                   "hot_share"}), prefix="keys.")
    kind = raw.get("kind")
    if kind not in KEY_KINDS:
        raise CommandError("keys.kind", f"must be one of {', '.join(KEY_KINDS)}, not {kind!r}")
    spec = {"kind": kind}
    if kind == "null":
        return spec
    sub = {k: raw[k] for k in raw if k != "kind"}
    try:
        spec["prefix"] = v.string(sub, "prefix", default="order-" if kind == "sequence"
                                  else "key-", max_length=100)
        spec["start"] = v.integer(sub, "start", default=1, minimum=0, maximum=2**53)
        if kind != "sequence":
            if "values" in sub:
                values = v.string_list(sub, "values", min_items=1, max_items=10_000)
                spec["values"] = values
                spec["count"] = len(values)
            else:
                spec["count"] = v.integer(sub, "count", default=10, minimum=1,
                                          maximum=1_000_000)
        if kind == "hot":
            spec["hot_keys"] = v.integer(sub, "hot_keys", default=1, minimum=1,
                                         maximum=spec["count"])
            spec["hot_share"] = v.number(sub, "hot_share", default=0.8, minimum=0, maximum=1)
            if spec["hot_keys"] == spec["count"] and spec["hot_share"] < 1:
                spec["hot_share"] = 1.0  # every key is hot: there is no cold key to draw
    except CommandError as e:
        raise CommandError(f"keys.{e.field}", e.message) from None
    return spec


class ProducerWorkload:
    __slots__ = ("id", "topic", "rate_per_s", "keys", "acks", "value", "value_bytes",
                 "started_ms", "sent", "timer", "key_source", "spec", "hashes", "_format")

    def __init__(self, spec: dict, started_ms: int, rng: random.Random):
        self.spec = spec
        self.id = spec["id"]
        self.topic = spec["topic"]
        self.rate_per_s = spec["rate_per_s"]
        self.keys = spec["keys"]
        self.acks = spec["acks"]
        self.value = spec["value"]
        self.value_bytes = spec["value_bytes"]
        self.started_ms = started_ms
        self.sent = 0
        self.timer = None
        self.key_source = KeySource(self.keys, rng)
        # Keys drawn from a set repeat, so their hashes are worth remembering; a sequence's
        # never do.
        self.hashes = {} if self.keys["kind"] in ("uniform", "hot") else None
        # The template as a format string of our own making: the user's braces are escaped,
        # only {n} and {key} become fields, so no user text is ever a format directive.
        escaped = self.value.replace("{", "{{").replace("}", "}}")
        self._format = escaped.replace("{{n}}", "{0}").replace("{{key}}", "{1}")

    def due_ms(self, n: int) -> int:
        """When record number n (from 0) is due."""
        return self.started_ms + math.ceil(n * 1000 / self.rate_per_s)

    def make_value(self, n: int, key) -> str:
        value = self._format.format(n + 1, key or "")
        size = self.value_bytes
        if size is not None and len(value) != size:
            value = value[:size] if len(value) > size else value.ljust(size, ".")
        return value

    def due_by(self, now_ms: int) -> int:
        """How many records are due by `now_ms` in all: the least n with due_ms(n) > now."""
        n = max(0, int((now_ms - self.started_ms) * self.rate_per_s / 1000) + 1)
        # The float estimate can be one off at an exact boundary; due_ms decides.
        while self.due_ms(n) <= now_ms:
            n += 1
        while n > 0 and self.due_ms(n - 1) > now_ms:
            n -= 1
        return n

    def state(self) -> dict:
        return {"id": self.id, "topic": self.topic, "rate_per_s": self.rate_per_s,
                "keys": dict(self.keys), "acks": self.acks, "value": self.value,
                "value_bytes": self.value_bytes, "sent": self.sent,
                "idempotent": self.spec["idempotent"], "retries": self.spec["retries"],
                "started_ms": self.started_ms}
