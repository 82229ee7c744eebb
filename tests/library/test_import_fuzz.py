"""Thousands of malformed documents, made by breaking valid ones: the validator and the import
view answer each with validation errors that carry JSON paths, never with anything else.

Mutations: a value replaced by junk of another type, huge or non-finite numbers, keys removed
or added, values buried under deep nesting, and bad commands slipped into a recording's log.
About 2,000 examples in all; the whole module takes well under a minute.
"""

import json
from pathlib import Path
from unittest import mock

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import broker_core
import playground.library.api as api
from broker_core.scenarios import load_builtin
from playground.library.api import DocumentError, validate_document

pytestmark = pytest.mark.django_db

SCENARIO_FILES = Path(broker_core.__file__).parent / "scenarios"
FUZZ = dict(deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def scenario_doc(name: str) -> dict:
    raw = json.loads((SCENARIO_FILES / f"{name}.json").read_text())
    return {"format": "playground.scenario", "version": 1, "slug": f"fuzz-{name}",
            "scenario": raw}


def recording_doc() -> dict:
    return {"format": "playground.recording", "version": 1, "title": "fuzz",
            "scenario": load_builtin("signup"), "seed": 3, "end_ms": 20_000, "log": [
                {"at_ms": 500, "command": {"type": "produce", "topic": "signup", "key": "k",
                                           "value": "v"}},
                {"at_ms": 1_000, "command": {"type": "consumer.crash",
                                             "group": "profile", "id": "profile-1"}},
                {"at_ms": 5_000, "command": {"type": "topic.create", "name": "more",
                                             "partitions": 2}},
            ]}


BASES = [scenario_doc("poison-message"), scenario_doc("rebalance"),
         scenario_doc("broker-failure"), recording_doc()]
HUGE = [10**30, -(10**30), 2**63, -(2**63) - 1, 2**31, 1e308, -1e308, 0.5, -1, 0,
        float("inf"), float("-inf"), float("nan")]

scalars = (st.none() | st.booleans() | st.integers() | st.sampled_from(HUGE)
           | st.floats(allow_nan=True) | st.text(max_size=30)
           | st.sampled_from(["", "bad name!", "all", "range", "-1", "1e3", "delete",
                              "order-placed", "topic.create", "produce"]))
junk = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                    max_leaves=12)


def positions(node, out=None) -> list:
    """Every (container, key) in a document, the document's own root first."""
    out = [] if out is None else out
    if isinstance(node, dict):
        for k in list(node):
            out.append((node, k))
            positions(node[k], out)
    elif isinstance(node, list):
        for i in range(len(node)):
            out.append((node, i))
            positions(node[i], out)
    return out


def nested(value, depth: int, as_list: bool):
    for _ in range(depth):
        value = [value] if as_list else {"x": value}
    return value


@st.composite
def broken_documents(draw):
    doc = json.loads(json.dumps(draw(st.sampled_from(BASES))))
    for _ in range(draw(st.integers(1, 3))):
        spots = positions(doc)
        kind = draw(st.sampled_from(["replace", "replace", "huge", "delete", "add", "nest",
                                     "command", "retype"]))
        container, key = draw(st.sampled_from(spots)) if spots else (None, None)
        if kind == "command" and doc.get("format") == "playground.recording" and \
                isinstance(doc.get("log"), list):
            types = sorted(broker_core.COMMAND_TYPES) + ["nope", ""]
            command = {"type": draw(st.sampled_from(types)),
                       **draw(st.dictionaries(st.sampled_from(
                           ["name", "topic", "group", "id", "partitions", "broker", "key",
                            "value", "mode", "config", "topics", "rate_per_s", "to",
                            "hangs", "junk"]), junk, max_size=4))}
            at = draw(st.sampled_from([0, 600, 2_000, 20_000, 10**12]) | st.integers(-5, 30_000))
            doc["log"].insert(draw(st.integers(0, len(doc["log"]))),
                              {"at_ms": at, "command": command})
        elif container is None:
            doc = draw(junk)
        elif kind in ("replace", "command"):
            container[key] = draw(junk)
        elif kind == "huge":
            container[key] = draw(st.sampled_from(HUGE))
        elif kind == "delete":
            del container[key]
        elif kind == "add":
            target = container[key] if isinstance(container[key], dict) else container
            if isinstance(target, dict):
                target[draw(st.text(max_size=10))] = draw(junk)
            else:
                target.append(draw(junk))
        elif kind == "nest":
            container[key] = nested(container[key], draw(st.sampled_from([3, 70, 300])),
                                    draw(st.booleans()))
        else:  # retype: the same content as another JSON type
            value = container[key]
            container[key] = draw(st.sampled_from([str(value)[:50], [value], {"v": value},
                                                   bool(value) if not isinstance(
                                                       value, (dict, list)) else None]))
        if not isinstance(doc, dict):
            break
    return doc


def assert_validation_errors(errors) -> None:
    assert errors, "a DocumentError with no errors"
    for path, message in errors:
        assert isinstance(path, str) and path.startswith("$"), path
        assert isinstance(message, str) and message, (path, message)


@settings(max_examples=1_400, **FUZZ)
@given(broken_documents())
def test_the_validator_answers_every_broken_document_with_paths(doc):
    with mock.patch.object(api, "MAX_REPLAY_EVENTS", 20_000):
        try:
            result = validate_document(doc)
        except DocumentError as e:
            assert_validation_errors(e.errors)
        else:
            assert result["format"] in ("playground.scenario", "playground.recording")


@settings(max_examples=600, **FUZZ)
@given(broken_documents())
def test_the_import_view_answers_every_broken_document_with_paths(doc):
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="fuzz", is_staff=True)
    client = Client()
    client.force_login(user)
    text = json.dumps(doc)  # NaN and Infinity too: Python's json writes and reads them
    # The real save path: a valid recording is stored by the rooms app.
    with mock.patch.object(api, "MAX_REPLAY_EVENTS", 20_000):
        response = client.post("/import", {"text": text})
    if response.status_code == 302:
        assert response["Location"].startswith("/s/")
        return
    if response.status_code == 200:  # imported under a fresh slug (its own was taken)
        assert response.context["imported"]["url"].startswith("/s/")
        return
    assert response.status_code == 400, response.status_code
    assert_validation_errors(response.context["errors"])
