"""Import documents (and admin JSON boxes) that got past the checks and broke later: lone
surrogates, repeated keys, numbers too long for Python, string seeds, emptied optional boxes, a
room's export near its log limit."""

import json

import pytest

from broker_core.scenarios import load_builtin
from playground.library.models import Scenario

pytestmark = pytest.mark.django_db


def error_items(response) -> list[str]:
    import re

    return [re.sub(r"<[^>]+>", "", item)
            for item in re.findall(r"<li data-path.*?</li>", response.content.decode(), re.S)]


@pytest.mark.parametrize("where", ["description", "title"])
def test_a_lone_surrogate_is_a_validation_error_at_its_path_not_a_500(admin_client, where):
    # "\ud800" is valid JSON but not Unicode: the database (UTF-8) could not store it.
    doc = {"format": "playground.scenario", "version": 1, "slug": "surrogate",
           "scenario": {**load_builtin("signup"), where: "ok \ud800"}}
    response = admin_client.post("/import", {"text": json.dumps(doc)})
    assert response.status_code == 400
    assert error_items(response) == [f"$.scenario.{where} is not valid Unicode text (a lone "
                                     "surrogate such as \\ud800)"]
    assert not Scenario.objects.filter(slug="surrogate").exists()


def test_a_lone_surrogate_in_a_recordings_log_or_a_key_is_named_too(client):
    doc = {"format": "playground.recording", "version": 1, "title": "t",
           "scenario": load_builtin("signup"), "seed": 3, "end_ms": 1_000, "log": [
               {"at_ms": 10, "command": {"type": "produce", "topic": "signup", "key": "k",
                                         "value": "v", "headers": {"\udc00": "x"}}}]}
    response = client.post("/import", {"text": json.dumps(doc)})
    assert response.status_code == 400
    assert error_items(response) == ["$.log[0].command.headers has a key that is not valid "
                                     "Unicode text (a lone surrogate such as \\ud800)"]


def test_a_recording_of_a_scenario_with_a_string_seed_exports_and_imports_back(client):
    # A library scenario may have a string seed (the admin says so); its rooms' shared
    # recordings carry it, and their export used to be refused on import at $.seed.
    from playground.rooms.recordings import recording_document, save_fields

    spec = {**load_builtin("signup"), "seed": "lecture-1"}
    log = [{"at_ms": 500, "command": {"type": "produce", "topic": "signup", "key": "k",
                                      "value": "v"}}]
    save_fields({"slug": "strseed", "title": "t", "spec": spec, "seed": "lecture-1",
                 "log": log, "end_ms": 2_000})
    doc = recording_document("strseed")
    del doc["slug"]
    response = client.post("/import", {"text": json.dumps(doc)})
    assert response.status_code == 302, error_items(response)
    from playground.rooms.models import Recording

    copy = Recording.objects.get(slug=response["Location"].removeprefix("/s/"))
    assert copy.seed == "lecture-1" and copy.log == log


SURROGATE_CASES = [
    ({"scenario": {"seed": '"\\ud800"'}}, None, "seed"),
    ({"scenario": {"cluster_config": '{"\\ud800": 1}'}}, None, "cluster_config"),
    ({"scenario": {"steps": '[{"title": "\\udfff", "text": "x"}]'}}, None, "steps"),
    ({"topics": [{"name": "orders", "partitions": 1}],
      "timeline": [{"at_ms": 5, "command": {"type": "produce", "topic": "orders",
                                            "value": "\ud800"}}]}, "timeline", "command"),
    ({"topics": [{"name": "orders", "partitions": 1}],
      "producers": [{"producer_id": "p", "topic": "orders", "rate_per_s": 1,
                     "keys": ["\ud800"]}]}, "producers", "keys"),
]


@pytest.mark.parametrize("parts, inline, field", [*SURROGATE_CASES, *[
    ({"scenario": {"steps": "[" + "9" * 5_000 + "]"}}, None, "steps"),
    ({"scenario": {"seed": "9" * 5_000}}, None, "seed"),
]])
def test_admin_json_with_a_lone_surrogate_or_a_huge_number_is_an_error_at_its_field(
        admin_client, parts, inline, field):
    # Each was a 500: the model measuring a record, the database storing it, or the form
    # echoing the value back as UTF-8.
    from tests.library.helpers import admin_post, inline_forms

    response = admin_client.post("/admin/library/scenario/add/", admin_post(**parts))
    assert response.status_code == 200
    form = (response.context["adminform"].form if inline is None
            else inline_forms(response, inline)[0])
    assert ("lone surrogate" in form.errors[field][0]
            or "over 4,300 digits" in form.errors[field][0])
    assert not Scenario.objects.filter(slug="my-scenario").exists()


def test_a_key_repeated_in_a_json_document_is_an_error_at_its_path(admin_client):
    # json.loads keeps the last of two "slug"s silently: the document said two things and
    # imported as one of them.
    spec = json.dumps(load_builtin("signup"))
    text = ('{"format": "playground.scenario", "version": 1, "slug": "one", "slug": "two", '
            '"scenario": ' + spec[:-1] + ', "topics": [{"name": "x", "name": "y"}]}}')
    response = admin_client.post("/import", {"text": text})
    assert response.status_code == 400
    assert error_items(response) == [
        "$.scenario.topics appears more than once in its object; keep one",
        "$.scenario.topics[0].name appears more than once in its object; keep one",
        "$.slug appears more than once in its object; keep one"]
    assert not Scenario.objects.filter(slug__in=["one", "two"]).exists()


@pytest.mark.parametrize("field, empty", [("cluster_config", {}), ("steps", []),
                                          ("figures", [])])
def test_an_emptied_optional_json_box_saves_as_empty_not_a_500(admin_client, field, empty):
    # The column allows blank but not NULL; the form cleaned "" to None and the save failed
    # with an IntegrityError.
    from tests.library.helpers import admin_post

    response = admin_client.post("/admin/library/scenario/add/",
                                 admin_post(scenario={field: ""}))
    assert response.status_code == 302
    assert getattr(Scenario.objects.get(slug="my-scenario"), field) == empty


def test_the_export_of_a_room_near_its_log_limit_imports_back_as_a_file(client):
    # A room keeps up to LOG_BYTES_MAX of commands; its export is indented JSON, and import
    # capped every document at a scenario's 1,000,000 characters: the file of a room at a
    # third of its budget was refused.
    from django.core.files.uploadedfile import SimpleUploadedFile

    from playground.rooms.models import Recording
    from playground.rooms.recordings import save_fields
    from playground.rooms.room import LOG_BYTES_MAX

    log, size, i = [], 0, 0
    while size < LOG_BYTES_MAX - 200:
        command = {"type": "produce", "topic": "signup", "key": f"user-{i}",
                   "value": f"signed up, number {i}"}
        size += len(json.dumps(command, separators=(",", ":")))
        log.append({"at_ms": 10 * i, "command": command})
        i += 1
    save_fields({"slug": "bigrec", "title": "Big", "spec": load_builtin("signup"), "seed": 3,
                 "log": log, "end_ms": 10 * i})
    text = client.get("/s/bigrec/export").content.decode()
    assert len(text) > 3_000_000
    text = text.replace('"slug": "bigrec"', '"slug": "bigrec-again"', 1)
    response = client.post("/import", {"file": SimpleUploadedFile("bigrec.json",
                                                                  text.encode())})
    assert response.status_code == 302, error_items(response)
    assert Recording.objects.get(slug="bigrec-again").log == log
    # Only a JSON recording may be that long; a scenario still stops at 1,000,000.
    doc = {"format": "playground.scenario", "version": 1, "slug": "huge",
           "scenario": {**load_builtin("signup"), "description": "x" * 150}, "pad": "y" * 10**6}
    response = client.post("/import", {"file": SimpleUploadedFile(
        "huge.json", json.dumps(doc).encode())})
    assert response.status_code == 400
    assert error_items(response)[0].startswith("$ the document is 1,00")


def test_a_number_too_long_for_python_is_an_error_at_the_root_not_a_500():
    # json.loads (and YAML) raise a plain ValueError past 4,300 digits, which the parser did
    # not expect: a 500 for anyone, no login needed.
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    client = Client(raise_request_exception=False)
    digits = "9" * 5_000
    text = '{"format": "playground.recording", "version": 1, "seed": ' + digits + "}"
    for data in ({"text": text},
                 {"file": SimpleUploadedFile("long.json", (text + " " * 10**6).encode())},
                 {"file": SimpleUploadedFile("long.yaml", f"seed: {digits}\n".encode())}):
        response = client.post("/import", data)
        assert response.status_code == 400
        assert error_items(response) == ["$ a number has more digits than any field takes "
                                         "(over 4,300)"]
