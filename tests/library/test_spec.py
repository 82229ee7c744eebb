"""The rows <-> spec mapping: every built-in survives the round trip as the same run."""

import pytest

from broker_core.checkers import digest
from broker_core.scenario import build_cluster, validate_scenario
from broker_core.scenarios import BUILTIN_NAMES, load_builtin
from playground.library import spec as mapping
from playground.library.models import Scenario
from playground.library.store import save_spec


def run_digest(spec: dict) -> str:
    cluster = build_cluster(spec)
    return digest(cluster.advance(spec["duration_ms"] or 60_000))


def via_rows(spec: dict) -> dict:
    rows = mapping.rows_from_spec(spec)
    return mapping.spec_from_rows(rows["scenario"], rows["topics"], rows["groups"],
                                  rows["producers"], rows["timeline"])


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_every_builtin_round_trips_through_rows_to_the_same_run(name):
    spec = load_builtin(name)
    again = validate_scenario(via_rows(spec))
    assert again == spec
    assert run_digest(again) == run_digest(spec)


@pytest.mark.django_db
@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_every_stored_builtin_is_its_file(name):
    """The rows the data migration wrote: to_spec(load(file)) validates and runs to the same
    digest as the file itself."""
    stored = Scenario.objects.get(slug=name)
    assert stored.builtin
    spec = validate_scenario(stored.to_spec())
    assert spec == load_builtin(name)
    assert run_digest(spec) == run_digest(load_builtin(name))


# Every column used, values in the spellings broker_core accepts but does not print ("3",
# "604800000", acks as the number 1): stored the way the model reads them.
EVERYTHING = {
    "name": "everything", "title": "All the columns", "seed": "a string seed", "brokers": 3,
    "duration": "2m", "cluster_config": {"replica.fetch.interval.ms": 20},
    "topics": [
        {"name": "in", "partitions": "3", "replication_factor": 2,
         "config": {"retention.ms": "604800000", "retention.bytes": -1,
                    "cleanup.policy": "delete", "min.insync.replicas": 1,
                    "unclean.leader.election.enable": "false",
                    "max.message.bytes": 100_000}},
        {"name": "in-dlt", "partitions": 3},
    ],
    "groups": [
        {"name": "workers", "topics": ["in"], "assignor": "cooperative-sticky",
         "session_timeout_ms": 10_000, "heartbeat_interval_ms": 1_000,
         "auto_offset_reset": "earliest", "max_attempts": 2, "retry_backoff_ms": 500,
         "retry_backoff_max_ms": 1_000, "retry_mode": "blocking",
         "processing_timeout_ms": 60_000, "message_timeout_ms": None,
         "dead_letter_topic": "in-dlt",
         "consumers": [{"id": "w-1"}, {"id": "w-2", "processing_ms": 5}],
         "consumer": {"processing_ms": 20, "failure_rate": 0.25, "fail_keys": ["k-3"]}},
    ],
    "producers": [
        {"id": "src", "topic": "in", "rate_per_s": 4, "acks": 1, "idempotent": False,
         "retries": 3, "keys": {"kind": "sequence", "prefix": "k-"}, "value": "v {key}",
         "value_bytes": 100, "start_ms": 1_000, "count": 40},
        {"id": "burst", "topic": "in", "rate_per_s": 2.5, "start_ms": 5_000, "stop_ms": 9_000},
        # keys: null is not keys left out (null keys, sticky partitioning; not a sequence)
        {"id": "keyless", "topic": "in", "rate_per_s": 1, "keys": None, "count": 5},
    ],
    "timeline": [{"at_ms": 30_000, "command": {"type": "broker.stop", "broker": 3,
                                                "mode": "crash"}},
                 {"at_ms": 30_000, "command": {"type": "consumer.crash", "group": "workers",
                                                "id": "w-1"}}],
    "steps": [{"title": "Look", "text": "here", "watch": {"topic": "in", "partition": 1}}],
    "figures": [{"label": "wait", "from": {"type": "record.produced"},
                 "to": {"type": "record.processed"}}],
}


def test_every_column_round_trips_to_the_same_run():
    spec = validate_scenario(EVERYTHING)
    rows = mapping.rows_from_spec(spec)
    assert rows["topics"][0]["retention_ms"] == 604_800_000
    assert rows["topics"][0]["unclean_leader_election_enable"] is False
    assert rows["topics"][0]["partitions"] == 3
    assert rows["producers"][0]["acks"] == "1"
    assert rows["producers"][1]["rate_per_s"] == 2.5
    assert rows["groups"][0]["consumer_count"] is None
    assert rows["producers"][2]["keys"] == {"kind": "null"}
    again = validate_scenario(via_rows(spec))
    assert run_digest(again) == run_digest(spec)


@pytest.mark.django_db
def test_stored_rows_round_trip_through_the_database():
    spec = validate_scenario(EVERYTHING)
    stored = save_spec(spec, slug="everything")
    stored.refresh_from_db()
    again = validate_scenario(stored.to_spec())
    assert again["seed"] == "a string seed"  # not 0, not an int: a different run
    assert run_digest(again) == run_digest(spec)


@pytest.mark.parametrize(("path", "where"), [
    ("$.name", ("scenario", None, "slug")),
    ("$.brokers", ("scenario", None, "brokers")),
    ("$.duration", ("scenario", None, "duration_ms")),
    ("$.steps[0].watch.topic", ("scenario", None, "steps")),
    ("$.cluster_config[\"replica.fetch.interval.ms\"]", ("scenario", None, "cluster_config")),
    ("$.topics", ("topics", None, None)),
    ("$.topics[2].name", ("topics", 2, "name")),
    ("$.topics[0].config[\"retention.ms\"]", ("topics", 0, "retention_ms")),
    ("$.topics[0].config[\"no.such\"]", ("topics", 0, None)),
    ("$.topics[0].config", ("topics", 0, None)),
    ("$.groups[1].consumers[0].id", ("groups", 1, "consumers")),
    ("$.groups[1].consumer.emits[0].topic", ("groups", 1, "consumer")),
    ("$.groups[1].dead_letter_topic", ("groups", 1, "dead_letter_topic")),
    ("$.producers[0].id", ("producers", 0, "producer_id")),
    ("$.producers[0].keys.kind", ("producers", 0, "keys")),
    ("$.timeline[4].command.broker", ("timeline", 4, "command")),
    ("$.timeline[4]", ("timeline", 4, None)),
    ("$", ("scenario", None, None)),
])
def test_locate_maps_error_paths_to_columns(path, where):
    assert mapping.locate(path) == where
