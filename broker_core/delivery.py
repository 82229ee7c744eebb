"""The delivery policy: what a group does with a record its consumer could not process.

Theory of operation
-------------------
Kafka itself has no retries, no processing timeout and no dead-letter queue on the broker; teams
build them on top (Spring Kafka's DefaultErrorHandler and retry topics, Kafka Connect's
errors.deadletterqueue, share groups' acquisition locks). The playground models that layer per
group, with the group's config deciding (`DELIVERY_DEFAULTS`):

- Every delivery of a record to a consumer is an *attempt* (``record.delivered`` has
  ``attempt``). An attempt fails when the consumer's code fails (``failure_rate`` drawn from the
  seed, or a poison key in ``fail_keys``) or when it has not finished ``processing_timeout_ms``
  after its ``record.delivered`` (``record.timed_out`` kind "processing"; a hanging consumer
  never finishes). Each failed attempt emits ``record.failed``.
- After a failed attempt n < ``max_attempts`` the record is retried after
  ``retry_backoff_ms * 2**(n-1)``, capped at ``retry_backoff_max_ms`` (Spring's
  ExponentialBackOff: 1 s, 2 s, 4 s … at most 30 s by default).
  ``retry_mode: "blocking"`` (Spring's DefaultErrorHandler): the consumer keeps the record and
  waits; its partition — and, since a consumer is one thread, every other partition it owns —
  waits behind it. That head-of-line blocking is the point of the demonstration.
  ``retry_mode: "topics"`` (Spring's non-blocking retries): the record is republished to
  ``<topic>-retry-1``, ``-retry-2`` … (one topic per retry, ``max_attempts - 1`` of them), with
  its due time in a header; the group subscribes to those topics too, and a retry topic's
  partition waits until its head record is due. The source partition moves on at once.
- After the last attempt, or when a record is older than ``message_timeout_ms`` (from its
  original log timestamp) when it is delivered (``record.timed_out`` kind "message"), the
  record goes to the dead-letter topic (``<topic>-dlt`` unless ``dead_letter_topic`` names one)
  in the same partition, with Spring's ``kafka_dlt-*`` headers, and the group commits past it.
- A retry or dead-letter topic is created on first use with the source topic's partition count
  and replication factor min(source's, live brokers), announced like any topic.
- A rebalance or crash loses what the consumer held in memory: the next owner starts from the
  committed offset and attempt counting starts again at 1 (``record.abandoned`` says so when a
  record waiting for its back-off loses its partition).

This module holds the pure pieces (config defaults, consumer behaviour parsing, templates,
headers, back-off); `group.Member` runs the attempts on the clock.
"""

import re

from . import validate as v
from .config import validate_topic_name
from .errors import CommandError
from .log import header_map, header_pairs

DELIVERY_DEFAULTS = {
    "max_attempts": 3,
    "retry_backoff_ms": 1_000,
    "retry_backoff_max_ms": 30_000,    # Spring's ExponentialBackOff default maxInterval
    "retry_mode": "blocking",          # or "topics": non-blocking retry topics
    "processing_timeout_ms": 86_400_000,  # the lecture's 24 hours, from record.delivered
    "message_timeout_ms": None,        # off; else from the record's original log timestamp
    "dead_letter_topic": None,         # None: <original topic>-dlt
}
RETRY_MODES = ("blocking", "topics")
MAX_ATTEMPTS = 20  # a retry topic each: a limit on how many topics one group may create
MAX_EMITS = 10
MAX_FANOUT = 100
MAX_FAIL_KEYS = 1_000
# The longest source topic name that leaves room for "-retry-NN" / "-dlt" (names stop at 249).
MAX_SOURCE_NAME = 249 - len("-retry-") - 2

# Header names as Spring Kafka's DeadLetterPublishingRecoverer and retry topics write them.
H_TOPIC = "kafka_dlt-original-topic"
H_PARTITION = "kafka_dlt-original-partition"
H_OFFSET = "kafka_dlt-original-offset"
H_TIMESTAMP = "kafka_dlt-original-timestamp"
H_GROUP = "kafka_dlt-original-consumer-group"
H_ERROR = "kafka_dlt-exception-message"
H_ATTEMPTS = "retry_topic-attempts"          # retry topics: the attempt the record is due for
H_DUE = "retry_topic-backoff-timestamp"      # retry topics: when it may be processed (ms)
DLT_HEADERS = (H_TOPIC, H_PARTITION, H_OFFSET, H_TIMESTAMP, H_GROUP, H_ERROR, H_ATTEMPTS, H_DUE)

_TEMPLATE = re.compile(r"\{(key|value|i)\}")


def backoff_ms(config: dict, failed_attempt: int) -> int:
    """The wait after failed attempt n: backoff * 2**(n-1), capped (Spring's ExponentialBackOff
    with multiplier 2)."""
    base = config["retry_backoff_ms"]
    cap = config["retry_backoff_max_ms"]
    if base == 0:
        return 0
    # The exponent is bounded by max_attempts (<= 20), so the product stays a small integer.
    return min(base << (failed_attempt - 1), cap)


def retry_topic_name(topic: str, index: int) -> str:
    return f"{topic}-retry-{index}"


def dead_letter_topic_name(config: dict, topic: str) -> str:
    return config["dead_letter_topic"] or f"{topic}-dlt"


def retry_topics(config: dict, topics: list[str]) -> dict[str, tuple[str, int]]:
    """Retry topic name -> (source topic, retry index) for a member subscribing `topics`."""
    if config["retry_mode"] != "topics":
        return {}
    return {retry_topic_name(t, i): (t, i)
            for t in topics for i in range(1, config["max_attempts"])}


def read_config(c: dict, config: dict) -> None:
    """Read the delivery fields of a group.configure command into `config` (validated)."""
    if "max_attempts" in c:
        config["max_attempts"] = v.integer(c, "max_attempts", minimum=1, maximum=MAX_ATTEMPTS)
    if "retry_backoff_ms" in c:
        config["retry_backoff_ms"] = v.integer(c, "retry_backoff_ms", minimum=0,
                                               maximum=86_400_000)
    if "retry_backoff_max_ms" in c:
        config["retry_backoff_max_ms"] = v.integer(c, "retry_backoff_max_ms", minimum=0,
                                                   maximum=86_400_000)
    if "retry_mode" in c:
        config["retry_mode"] = v.choice(c, "retry_mode", RETRY_MODES)
    if "processing_timeout_ms" in c:
        config["processing_timeout_ms"] = v.integer(c, "processing_timeout_ms", minimum=1,
                                                    maximum=30 * 86_400_000)
    if "message_timeout_ms" in c:
        config["message_timeout_ms"] = v.integer(c, "message_timeout_ms", default=None,
                                                 minimum=1, maximum=30 * 86_400_000)
    if "dead_letter_topic" in c:
        name = c["dead_letter_topic"]
        config["dead_letter_topic"] = (None if name is None
                                       else validate_topic_name(name, "dead_letter_topic"))


CONFIG_FIELDS = frozenset(DELIVERY_DEFAULTS)


# -- what a consumer does with a record ---------------------------------------------------------

def _template(raw, field: str, max_length: int = 10_000) -> str:
    if not isinstance(raw, str):
        raise CommandError(field, "must be a string template ({key}, {value} and {i} are "
                                  "replaced)")
    if len(raw) > max_length:
        raise CommandError(field, f"must be at most {max_length:,} characters")
    return raw


def render(template: str, key, value, i: int) -> str:
    """Fill {key}, {value} and {i} (1-based) into a template; nothing else is interpreted, so
    user text is never a format directive."""
    fields = {"key": "" if key is None else key, "value": "" if value is None else value,
              "i": str(i)}
    return _TEMPLATE.sub(lambda m: fields[m.group(1)], template)


def _parse_emits(raw) -> list[dict]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise CommandError("emits", "must be a list of {topic, fanout, key, value}")
    if len(raw) > MAX_EMITS:
        raise CommandError("emits", f"may name at most {MAX_EMITS} outputs")
    out = []
    for n, item in enumerate(raw):
        where = f"emits[{n}]"
        if not isinstance(item, dict):
            raise CommandError(where, "must be an object {topic, fanout, key, value}")
        v.check_fields(item, frozenset({"topic", "fanout", "key", "value"}), prefix=where + ".")
        if "topic" not in item:
            raise CommandError(f"{where}.topic", "is required")
        topic = validate_topic_name(item["topic"], f"{where}.topic")
        fanout = v.integer(item, "fanout", default=1, minimum=1, maximum=MAX_FANOUT,
                           field=f"{where}.fanout")
        key = item.get("key", "same")
        if key is not None:
            key = _template(key, f"{where}.key", max_length=10_000)
        value = _template(item.get("value", "{value}"), f"{where}.value")
        out.append({"topic": topic, "fanout": fanout, "key": key, "value": value})
    return out


def _parse_processing(raw):
    if isinstance(raw, dict):
        v.check_fields(raw, frozenset({"min", "max"}), prefix="processing_ms.")
        lo = v.integer(raw, "min", minimum=0, maximum=30 * 86_400_000, field="processing_ms.min")
        hi = v.integer(raw, "max", minimum=0, maximum=30 * 86_400_000, field="processing_ms.max")
        if hi < lo:
            raise CommandError("processing_ms.max", f"must be at least min ({lo:,})")
        return {"min": lo, "max": hi}
    return v.integer({"processing_ms": raw}, "processing_ms", minimum=0,
                     maximum=30 * 86_400_000)


def parse_behaviour(c: dict) -> dict:
    """The consumer.add fields that say how a consumer processes records (validated)."""
    raw = c.get("processing_ms")
    processing = _parse_processing(0 if raw is None else raw)
    failure_rate = v.number(c, "failure_rate", default=0, minimum=0, maximum=1)
    fail_keys = c.get("fail_keys")
    if fail_keys is None:
        fail_keys = []
    elif not isinstance(fail_keys, list):
        raise CommandError("fail_keys", "must be a list of record keys that always fail")
    elif len(fail_keys) > MAX_FAIL_KEYS:
        raise CommandError("fail_keys", f"may name at most {MAX_FAIL_KEYS:,} keys")
    for i, key in enumerate(fail_keys):
        if not isinstance(key, str) or len(key) > 10_000:
            raise CommandError(f"fail_keys[{i}]", "must be a string of at most 10,000 "
                                                  "characters")
    hangs = c.get("hangs", False)
    if not isinstance(hangs, bool):
        raise CommandError("hangs", "must be true or false")
    return {"processing_ms": processing, "failure_rate": failure_rate,
            "fail_keys": sorted(set(fail_keys)), "hangs": hangs,
            "emits": _parse_emits(c.get("emits"))}


def headers_for(source: dict, group: str, error: str, attempts: int,
                due_ms: int | None = None) -> dict:
    """Headers of a record forwarded to a retry or dead-letter topic. `source` names the
    original record (topic, partition, offset, timestamp_ms, headers); the original's own
    headers are kept, as Spring keeps them."""
    pairs = [(k, val) for k, val in header_pairs(source["headers"]) if k not in DLT_HEADERS]
    headers = dict(pairs)
    if len(headers) < len(pairs):
        # A real client's record with a name twice: every one is kept, in order, as Kafka
        # forwards them.
        return [list(p) for p in pairs] + [[k, val] for k, val in headers_for(
            {**source, "headers": None}, group, error, attempts, due_ms).items()]
    headers[H_TOPIC] = source["topic"]
    headers[H_PARTITION] = str(source["partition"])
    headers[H_OFFSET] = str(source["offset"])
    headers[H_TIMESTAMP] = str(source["timestamp_ms"])
    headers[H_GROUP] = group
    headers[H_ERROR] = error
    headers[H_ATTEMPTS] = str(attempts)
    if due_ms is not None:
        headers[H_DUE] = str(due_ms)
    return headers


_HEADER_INT = re.compile(r"[0-9]{1,18}")
MAX_BACKOFF_MS = 86_400_000  # the largest retry_backoff_max_ms: no due time lies further out


def header_int(headers: dict | None, name: str) -> int | None:
    """A non-negative integer header as the delivery layer writes it, or None when it is
    missing or malformed: anyone may produce any header, so a bad one means "not ours"."""
    raw = header_map(headers).get(name)
    if isinstance(raw, str) and _HEADER_INT.fullmatch(raw):
        return int(raw)
    return None


def original_of(topic: str, partition: int, offset: int, record: dict,
                main_topic: str | None = None) -> dict:
    """The first record this one stands for. Headers are followed only for a record in one of
    the group's own retry topics (`main_topic` names its main topic), and only when they are
    well formed: anywhere else a ``kafka_dlt-*`` header is just data someone wrote (a DLT read
    by another group, a user's produce), and the record stands for itself, as Spring names a
    DLT after the consumed record's topic."""
    headers = record["headers"] or {}
    if main_topic is not None and H_TOPIC in headers:
        at = [header_int(headers, h) for h in (H_PARTITION, H_OFFSET, H_TIMESTAMP)]
        if None not in at:
            return {"topic": main_topic, "partition": at[0], "offset": at[1],
                    "timestamp_ms": at[2], "headers": headers}
    return {"topic": topic, "partition": partition, "offset": offset,
            "timestamp_ms": record["timestamp_ms"], "headers": record["headers"]}
