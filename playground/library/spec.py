"""Between a broker_core scenario document and the library's rows, both ways.

A scenario is stored as one Scenario row plus ordered rows for its topics, groups, producers
and timeline. These functions work on plain dicts (a row's field values), not on model
instances, so the data migration (historical models) and the admin's unsaved forms use the
very same mapping as `Scenario.to_spec()`.

`rows_from_spec(spec)` takes a spec broker_core has validated and splits it into columns;
`spec_from_rows(...)` puts it back together as a document `validate_scenario` accepts. The
round trip keeps the run: the same commands at the same times, so the same event stream
(tests/library/test_spec.py runs every built-in both ways and compares digests). Values are
stored as the model reads them (a topic's "604800000" becomes 604800000) by broker_core's own
readers, never by rules written again here.

`locate(path)` answers the reverse question for errors: which row and which column a JSON path
from a ScenarioError points into (``$.topics[2].config["retention.ms"]`` -> topics, 2,
retention_ms), so a form can show broker_core's message next to the field it is about.
"""

import re

from broker_core import validate as v
from broker_core.config import TOPIC_CONFIGS, validate_config
from broker_core.scenario import GROUP_DOC_KEYS, PRODUCER_DOC_KEYS

# Kafka's topic config names and the columns that hold them ("retention.ms" -> retention_ms).
CONFIG_COLUMNS = {name: name.replace(".", "_") for name in TOPIC_CONFIGS}
TOPIC_COLUMNS = ("name", "partitions", "replication_factor", *CONFIG_COLUMNS.values())

# group.configure's fields, one column each; the group's consumers are three columns:
# consumer_count or consumer_list (the document's `consumers`, a number or a list of
# per-consumer objects) and consumer (settings every consumer of the group shares).
GROUP_CONFIG_COLUMNS = ("assignor", "session_timeout_ms", "heartbeat_interval_ms",
                        "auto_offset_reset", "max_attempts", "retry_backoff_ms",
                        "retry_backoff_max_ms", "retry_mode", "processing_timeout_ms",
                        "message_timeout_ms", "dead_letter_topic")
GROUP_INT_COLUMNS = frozenset({"session_timeout_ms", "heartbeat_interval_ms", "max_attempts",
                               "retry_backoff_ms", "retry_backoff_max_ms",
                               "processing_timeout_ms", "message_timeout_ms"})
GROUP_COLUMNS = ("name", "topics", *GROUP_CONFIG_COLUMNS, "consumer_count", "consumer_list",
                 "consumer")

# producer.add's fields plus the scenario's start_ms/stop_ms/count; `id` is producer_id
# (a model's `id` is its primary key).
PRODUCER_FIELDS = ("id", "topic", "rate_per_s", "keys", "acks", "value", "value_bytes",
                   "idempotent", "retries", *PRODUCER_DOC_KEYS)
PRODUCER_INT_COLUMNS = frozenset({"value_bytes", "retries", "start_ms", "stop_ms", "count"})
PRODUCER_COLUMNS = tuple("producer_id" if f == "id" else f for f in PRODUCER_FIELDS)

TIMELINE_COLUMNS = ("at_ms", "command")

SCENARIO_COLUMNS = ("slug", "title", "description", "teaches", "seed", "brokers",
                    "duration_ms", "cluster_config", "steps", "figures")


class UnmappedKey(ValueError):
    """A validated spec held a key no column stores: the model and the mapping disagree."""


def _whole(entry: dict, key: str):
    """An integer field as the model reads it (broker_core's reader: "3" and 3.0 are 3)."""
    value = entry.get(key)
    if value is None:
        return None
    return v.integer(entry, key)


def rows_from_spec(spec: dict) -> dict:
    """A validated, normalized spec (`validate_scenario`'s result) as row values:
    ``{"scenario": {...}, "topics": [...], "groups": [...], "producers": [...],
    "timeline": [...]}``, each child list in document order."""
    scenario = {
        "slug": spec["name"],
        "title": spec["title"],
        "description": spec["description"],
        "teaches": spec["teaches"],
        "seed": spec["seed"],
        "brokers": spec["brokers"],
        "duration_ms": spec["duration_ms"],
        "cluster_config": spec["cluster_config"],
        "steps": spec["steps"],
        "figures": spec["figures"],
    }
    topics = []
    for t in spec["topics"]:
        extra = set(t) - {"name", "partitions", "replication_factor", "config"}
        if extra:
            raise UnmappedKey(f"topic keys {sorted(extra)}")
        row = {"name": t["name"], "partitions": _whole(t, "partitions"),
               "replication_factor": _whole(t, "replication_factor")}
        config = validate_config(t.get("config"))
        for name, column in CONFIG_COLUMNS.items():
            row[column] = config.get(name)
        topics.append(row)
    groups = []
    for g in spec["groups"]:
        extra = set(g) - set(GROUP_DOC_KEYS) - set(GROUP_CONFIG_COLUMNS)
        if extra:
            raise UnmappedKey(f"group keys {sorted(extra)}")
        row = {"name": g["name"], "topics": g.get("topics")}
        for column in GROUP_CONFIG_COLUMNS:
            row[column] = _whole(g, column) if column in GROUP_INT_COLUMNS else g.get(column)
        # validate_scenario turns a count into a list of empty objects; a list of nothing but
        # empty objects is stored as the count it stands for.
        consumers = g.get("consumers", [])
        if all(c == {} for c in consumers):
            row["consumer_count"], row["consumer_list"] = len(consumers), None
        else:
            row["consumer_count"], row["consumer_list"] = None, consumers
        row["consumer"] = g.get("consumer") or {}
        groups.append(row)
    producers = []
    for p in spec["producers"]:
        extra = set(p) - set(PRODUCER_FIELDS)
        if extra:
            raise UnmappedKey(f"producer keys {sorted(extra)}")
        row = {}
        for field, column in zip(PRODUCER_FIELDS, PRODUCER_COLUMNS, strict=True):
            row[column] = _whole(p, field) if column in PRODUCER_INT_COLUMNS else p.get(field)
        if row["acks"] is not None:
            row["acks"] = v.choice(p, "acks", ("0", "1", "all", "-1"))
        if "keys" in p and p["keys"] is None:
            # An explicit null means null keys, an absent one sequence keys; a column's NULL
            # is "absent", so store what null stands for (producer.added prints it so).
            row["keys"] = {"kind": "null"}
        producers.append(row)
    timeline = [{"at_ms": item["at_ms"], "command": item["command"]}
                for item in spec["timeline"]]
    return {"scenario": scenario, "topics": topics, "groups": groups,
            "producers": producers, "timeline": timeline}


def _present(row: dict, columns) -> dict:
    return {c: row[c] for c in columns if row.get(c) is not None}


def topic_entry(row: dict) -> dict:
    entry = _present(row, ("name", "partitions", "replication_factor"))
    config = {name: row[column] for name, column in CONFIG_COLUMNS.items()
              if row.get(column) is not None}
    if config:
        entry["config"] = config
    return entry


def group_entry(row: dict) -> dict:
    entry = _present(row, ("name", "topics", *GROUP_CONFIG_COLUMNS))
    if row.get("consumer_list") is not None:
        entry["consumers"] = row["consumer_list"]
    elif row.get("consumer_count") is not None:
        entry["consumers"] = row["consumer_count"]
    if row.get("consumer"):
        entry["consumer"] = row["consumer"]
    return entry


def producer_entry(row: dict) -> dict:
    return {field: row[column]
            for field, column in zip(PRODUCER_FIELDS, PRODUCER_COLUMNS, strict=True)
            if row.get(column) is not None}


def timeline_entry(row: dict) -> dict:
    return {"at_ms": row.get("at_ms"), "command": row.get("command")}


def spec_from_rows(scenario: dict, topics=(), groups=(), producers=(), timeline=()) -> dict:
    """A broker_core scenario document from row values (the inverse of `rows_from_spec`).
    Child lists must already be in order."""
    doc = {
        "name": scenario.get("slug"),
        "title": scenario.get("title") or scenario.get("slug"),
        "description": scenario.get("description") or "",
        "teaches": scenario.get("teaches") or "",
        "seed": scenario.get("seed") if scenario.get("seed") is not None else 0,
        "brokers": scenario.get("brokers"),
    }
    if scenario.get("cluster_config"):
        doc["cluster_config"] = scenario["cluster_config"]
    if scenario.get("duration_ms") is not None:
        doc["duration_ms"] = scenario["duration_ms"]
    doc["topics"] = [topic_entry(r) for r in topics]
    doc["groups"] = [group_entry(r) for r in groups]
    doc["producers"] = [producer_entry(r) for r in producers]
    doc["timeline"] = [timeline_entry(r) for r in timeline]
    doc["steps"] = scenario.get("steps") or []
    doc["figures"] = scenario.get("figures") or []
    return doc


# -- errors back to fields ----------------------------------------------------------------------

_CHILD = re.compile(r"\$\.(topics|groups|producers|timeline)\[([0-9]+)\](.*)")
_TOP = re.compile(r"\$\.([A-Za-z_]+)")
_KEY = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\"(?:[^\"\\]|\\.)*\")\]")
_SCENARIO_KEYS = {"name": "slug", "duration": "duration_ms", "duration_ms": "duration_ms",
                  **{c: c for c in SCENARIO_COLUMNS}}


def _first_key(rest: str) -> tuple[str | None, str]:
    import json

    m = _KEY.match(rest)
    if m is None:
        return None, rest
    key = m.group(1) if m.group(1) is not None else json.loads(m.group(2))
    return key, rest[m.end():]


def locate(path: str) -> tuple[str, int | None, str | None]:
    """Where a ScenarioError path points: ``(part, index, column)``. part is "scenario",
    "topics", "groups", "producers" or "timeline"; index is the child's position (None for
    the scenario or a whole list); column is None when no single column holds the value."""
    m = _CHILD.fullmatch(path)
    if m is None:
        top = _TOP.match(path)
        key = top.group(1) if top else None
        if key in ("topics", "groups", "producers", "timeline") and path == f"$.{key}":
            return key, None, None
        return "scenario", None, _SCENARIO_KEYS.get(key)
    part, index, rest = m.group(1), int(m.group(2)), m.group(3)
    key, rest = _first_key(rest)
    if key is None:
        return part, index, None
    if part == "topics":
        if key == "config":
            sub, _ = _first_key(rest)
            return part, index, CONFIG_COLUMNS.get(sub)
        return part, index, key if key in TOPIC_COLUMNS else None
    if part == "groups":
        if key == "consumers":
            return part, index, "consumers"  # the form says which of count/list it uses
        return part, index, key if key in GROUP_COLUMNS else None
    if part == "producers":
        if key == "id":
            return part, index, "producer_id"
        return part, index, key if key in PRODUCER_COLUMNS else None
    return part, index, key if key in TIMELINE_COLUMNS else None
