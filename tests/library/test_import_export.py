"""Export and import: a round trip keeps the scenario; every error comes back with its path."""

import json
import sys
import types

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape

from broker_core.errors import CommandError
from broker_core.scenario import build_cluster, validate_scenario
from broker_core.scenarios import load_builtin
from playground.library.api import (
    DocumentError,
    gallery,
    lookup_scenario,
    slug_taken,
    validate_document,
)
from playground.library.models import Scenario

pytestmark = pytest.mark.django_db


def errors_of(doc) -> list[tuple[str, str]]:
    with pytest.raises(DocumentError) as caught:
        validate_document(doc)
    return caught.value.errors


def recording(log, **extra) -> dict:
    return {"format": "playground.recording", "version": 1, "scenario": load_builtin("signup"),
            "seed": 3, "log": log, "end_ms": 60_000, **extra}


def test_export_is_a_json_attachment_that_imports_back_as_the_same_scenario(admin_client):
    response = admin_client.get("/s/amazon-orders/export")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="amazon-orders.json"'
    doc = json.loads(response.content)
    assert doc["format"] == "playground.scenario" and doc["slug"] == "amazon-orders"
    # Its slug is taken (it is the built-in); under another slug it imports.
    assert errors_of(doc) == [("$.slug", "/s/amazon-orders is taken already; give the "
                               "document another \"slug\"")]
    doc["slug"] = "amazon-orders-again"
    response = admin_client.post("/import", {"text": json.dumps(doc)})
    assert response.status_code == 302 and response["Location"] == "/s/amazon-orders-again"
    copy = Scenario.objects.get(slug="amazon-orders-again")
    assert not copy.builtin
    assert validate_scenario(copy.to_spec()) == {**load_builtin("amazon-orders"),
                                                 "name": "amazon-orders-again"}
    again = json.loads(admin_client.get("/s/amazon-orders-again/export").content)
    assert again == {**doc, "scenario": {**doc["scenario"], "name": "amazon-orders-again"}}


def test_a_file_upload_imports_too(admin_client):
    doc = {"format": "playground.scenario", "version": 1,
           "scenario": {"name": "tiny", "brokers": 1, "timeline": [],
                        "topics": [{"name": "t"}]}}
    upload = SimpleUploadedFile("tiny.json", json.dumps(doc).encode(), "application/json")
    response = admin_client.post("/import", {"file": upload})
    assert response["Location"] == "/s/tiny"
    found = lookup_scenario("tiny")
    assert found["spec"]["topics"] == [{"name": "t"}] and found["builtin"] is False
    assert slug_taken("tiny") and not slug_taken("nothing-here")
    slugs = [g["slug"] for g in gallery()]
    assert slugs.index("tiny") > slugs.index("rebalance")  # built-ins first


def test_every_error_is_listed_with_its_path_and_nothing_is_saved(admin_client):
    doc = {"format": "playground.scenario", "version": 2, "extra": True, "slug": "Bad Slug",
           "scenario": {"brokers": 0, "timeline": [],
                        "topics": [{"name": "bad name!"}, {"name": "ok", "partitions": -1}]}}
    response = admin_client.post("/import", {"text": json.dumps(doc)})
    assert response.status_code == 400
    errors = response.context["errors"]
    paths = [p for p, _ in errors]
    assert paths == ["$.version", "$.extra", "$.slug", "$.scenario.brokers",
                     "$.scenario.topics[0].name", "$.scenario.topics[1].partitions"]
    html = response.content.decode()
    for path, message in errors:
        assert f'data-path="{path}"' in html
        assert escape(message) in html  # user text stays text
    assert Scenario.objects.count() == 10


@pytest.mark.parametrize(("text", "path", "fragment"), [
    ("", "$", "choose a file or paste a document"),
    ("{not json", "$", "not valid JSON"),
    ("[1, 2]", "$", "a document is an object"),
    ("12", "$", "a document is an object"),
    ('{"format": "playground.scenario", "version": 1}', "$.scenario", "is required"),
    ("[" * 5000 + "]" * 5000, "$", "nests"),
])
def test_text_that_is_not_a_document(admin_client, text, path, fragment):
    response = admin_client.post("/import", {"text": text})
    assert response.status_code == 400
    (got_path, message), *_ = response.context["errors"]
    assert got_path == path and fragment in message


def test_a_file_that_is_not_utf8_is_an_error_not_a_crash(admin_client):
    upload = SimpleUploadedFile("x.json", b"\xff\xfe{", "application/json")
    response = admin_client.post("/import", {"file": upload})
    assert response.status_code == 400
    assert response.context["errors"][0][0] == "$"


def test_adding_a_scenario_takes_a_staff_login(client):
    doc = {"format": "playground.scenario", "version": 1,
           "scenario": {"name": "tiny", "brokers": 1, "timeline": []}}
    response = client.post("/import", {"text": json.dumps(doc)})
    assert response.status_code == 400
    assert response.context["errors"][0][0] == "$.format"
    assert not Scenario.objects.filter(slug="tiny").exists()
    assert client.get("/import").status_code == 200


def test_a_recordings_log_is_judged_by_the_model():
    produce = {"type": "produce", "topic": "signup", "key": "k", "value": "v"}
    shrink = {"type": "topic.add_partitions", "name": "signup", "partitions": 1}
    doc = validate_document(recording([{"at_ms": 100, "command": produce}]))
    assert doc["log"] == [{"at_ms": 100, "command": produce}] and doc["slug"] is None

    # The message is broker_core's, at the path of the command's field.
    scratch = build_cluster(load_builtin("signup"), seed=3)
    with pytest.raises(CommandError) as refusal:
        scratch.apply(shrink)
    assert errors_of(recording([{"at_ms": 100, "command": produce},
                                {"at_ms": 200, "command": shrink}])) == [
        ("$.log[1].command.partitions", refusal.value.message)]

    assert errors_of(recording([{"at_ms": 300, "command": produce},
                                {"at_ms": 200, "command": produce, "why": 1}])) == [
        ("$.log[1].why", "unknown key; a log entry is {\"at_ms\", \"command\"}"),
        ("$.log[1].at_ms", "must not be earlier than the entry before it (300 ms)")]
    assert [p for p, _ in errors_of(recording([{"at_ms": 70_000, "command": produce}]))] == [
        "$.log[0].at_ms"]
    assert [p for p, _ in errors_of(recording([{"at_ms": 1, "command": {"type": 7}}],
                                              seed=True))] == ["$.seed",
                                                                "$.log[0].command.type"]


def test_a_recording_that_costs_too_much_to_check_is_refused(monkeypatch):
    import playground.library.api as api

    monkeypatch.setattr(api, "MAX_REPLAY_EVENTS", 100)
    produce = {"type": "produce", "topic": "signup", "key": "k", "value": "v"}
    (path, message), = errors_of(recording([{"at_ms": 0, "command": produce},
                                            {"at_ms": 59_000, "command": produce}]))
    assert path == "$.log[1].at_ms" and "more than 100 events" in message


def test_recordings_go_to_the_rooms_app_checked_once(client, monkeypatch):
    """The view validated the document (a replay of its log): the rooms app stores it without
    replaying it again, and the visitor goes to its link."""
    text = json.dumps(recording([]))
    saved = []
    module = types.ModuleType("playground.rooms.recordings")
    module.save_recording = lambda doc, checked=False: saved.append((doc, checked)) or "my-rec"
    monkeypatch.setitem(sys.modules, "playground.rooms.recordings", module)
    response = client.post("/import", {"text": text})
    assert response.status_code == 302 and response["Location"] == "/s/my-rec"
    doc, checked = saved[0]
    assert checked and doc["seed"] == 3 and doc["scenario"] == load_builtin("signup")


@pytest.mark.django_db
def test_export_of_nothing_is_a_404(client):
    assert client.get("/s/no-such-thing/export").status_code == 404


@pytest.mark.django_db
def test_anonymous_imports_share_the_room_creation_allowance(client):
    """Checking a recording replays it: an address gets the same burst it gets for rooms."""
    from playground.rooms.registry import Rooms, set_rooms

    set_rooms(Rooms(create_burst=2, create_per_min=0.1))
    try:
        for _ in range(2):
            assert client.post("/import", {"text": "{}"}).status_code == 400  # judged
        refused = client.post("/import", {"text": "{}"})
        assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
        assert "too many imports" in refused.content.decode()
    finally:
        set_rooms(None)
