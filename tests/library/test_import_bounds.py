"""Imports are bounded (issue 11: "One anonymous 1 KB /import of a recording (a 100,000/s
producer, one log entry at 60 s) grew the server ~170 MB/s: the 2,000,000-event check runs
only after each 60 s replay chunk"). The rooms' limits refuse such a document up front, by
path; and the replay that checks a recording stops within one slice of its event limit,
holding at most one slice of events at a time."""

import json
import time

import pytest

import playground.library.api as api
from broker_core import Cluster
from playground.library.api import DocumentError, validate_document

pytestmark = pytest.mark.django_db


def recording(producers, log, end_ms=None) -> dict:
    scenario = {"brokers": 1, "topics": [{"name": "t", "partitions": 1}],
                "producers": producers, "timeline": []}
    return {"format": "playground.recording", "version": 1, "scenario": scenario, "seed": 1,
            "log": log, "end_ms": end_ms if end_ms is not None else log[-1]["at_ms"]}


def the_finding() -> dict:
    return recording([{"id": "p", "topic": "t", "rate_per_s": 100_000}],
                     [{"at_ms": 60_000, "command": {"type": "produce", "topic": "t",
                                                    "value": "v"}}])


def errors_of(doc) -> list[tuple[str, str]]:
    with pytest.raises(DocumentError) as caught:
        validate_document(doc)
    return caught.value.errors


@pytest.fixture
def counted(monkeypatch):
    """Every event the scratch model hands out while a document is checked: the total and
    the most held at once."""
    seen = {"total": 0, "largest": 0}

    def count(events):
        seen["total"] += len(events)
        seen["largest"] = max(seen["largest"], len(events))
        return events

    advance_to, apply = Cluster.advance_to, Cluster.apply
    monkeypatch.setattr(Cluster, "advance_to",
                        lambda self, *a, **k: count(advance_to(self, *a, **k)))
    monkeypatch.setattr(Cluster, "apply", lambda self, *a, **k: count(apply(self, *a, **k)))
    return seen


def test_the_1kb_recording_of_the_finding_is_refused_at_once_naming_the_limit(counted):
    doc = the_finding()
    assert len(json.dumps(doc)) < 1024
    started = time.process_time()
    errors = errors_of(doc)
    assert time.process_time() - started < 2.0
    assert errors == [("$.scenario.producers[0].rate_per_s",
                       "at most 1,000 records/s per producer in this playground "
                       "(PLAYGROUND_PRODUCER_RATE_MAX), not 100,000")]
    assert counted["total"] < 1_000  # refused before any replay


def test_the_finding_through_the_import_page_is_a_400_with_the_limit(client):
    started = time.process_time()
    response = client.post("/import", {"text": json.dumps(the_finding())})
    assert time.process_time() - started < 2.0
    assert response.status_code == 400
    assert "PLAYGROUND_PRODUCER_RATE_MAX" in response.content.decode()


def test_a_fast_producer_added_by_the_log_is_refused_at_its_entry(counted):
    add = {"type": "producer.add", "id": "p", "topic": "t", "rate_per_s": 100_000}
    errors = errors_of(recording([], [{"at_ms": 0, "command": add},
                                      {"at_ms": 60_000, "command": {"type": "producer.remove",
                                                                    "id": "p"}}]))
    assert errors == [("$.log[0].command.rate_per_s",
                       "at most 1,000 records/s per producer in this playground "
                       "(PLAYGROUND_PRODUCER_RATE_MAX), not 100,000")]
    assert counted["total"] < 1_000


def test_a_recording_within_the_rates_stops_within_a_slice_of_the_event_limit(counted,
                                                                               monkeypatch):
    """Two producers at the limits (2,000 records/s, 4,000 events/s): an hour is 14 million
    events; the check stops just past its limit, never a 60 s chunk (240,000 events) later."""
    monkeypatch.setattr(api, "MAX_REPLAY_EVENTS", 50_000)
    doc = recording([{"id": "a", "topic": "t", "rate_per_s": 1_000},
                     {"id": "b", "topic": "t", "rate_per_s": 1_000}],
                    [{"at_ms": 3_600_000, "command": {"type": "produce", "topic": "t",
                                                      "value": "v"}}])
    started = time.process_time()
    errors = errors_of(doc)
    assert time.process_time() - started < 2.0
    assert errors == [("$.log[0].at_ms", "replaying the recording up to here makes more than "
                       "50,000 events; too long to check on upload")]
    assert counted["total"] <= 50_000 + api.REPLAY_SLICE_EVENTS
    assert counted["largest"] <= api.REPLAY_SLICE_EVENTS + 10  # one instant past the bound


def test_a_recording_within_every_limit_still_imports(counted):
    doc = validate_document(recording(
        [{"id": "a", "topic": "t", "rate_per_s": 100}],
        [{"at_ms": 30_000, "command": {"type": "topic.add_partitions", "name": "t",
                                       "partitions": 3}}]))
    assert doc["log"][0]["at_ms"] == 30_000
    assert counted["largest"] <= api.REPLAY_SLICE_EVENTS + 10


def test_a_recordings_log_cannot_grow_the_room_past_its_partitions():
    grow = [{"at_ms": 10 * i, "command": {"type": "topic.create", "name": f"t{i}",
                                          "partitions": 100}} for i in range(3)]
    assert errors_of(recording([], grow)) == [
        ("$.log[2].command.partitions", "at most 300 partitions per room in this playground "
         "(PLAYGROUND_ROOM_PARTITIONS_MAX); this would make 301")]
