"""Malformed scenario documents get a ScenarioError with JSON paths, never another exception.

Thousands of documents: arbitrary JSON values, arbitrary objects with the scenario's own keys,
built-ins with one value replaced, removed or added somewhere, and arbitrary text to parse.
"""

import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker_core.scenario import ScenarioError, parse_text, validate_scenario
from broker_core.scenarios import BUILTIN_NAMES
from broker_core.scenarios import _raw as raw_builtin

FUZZ = settings(max_examples=1_000, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
           | st.sampled_from(["topic.create", "produce", "consumer.add", "broker.stop",
                              "order-placed", "g", "all", "1", "range", "10s", "$"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=20)
KEYS = ["name", "title", "description", "teaches", "seed", "brokers", "cluster_config",
        "duration", "duration_ms", "topics", "groups", "producers", "timeline", "steps",
        "figures", "type", "at_ms", "command", "partitions", "consumers", "consumer", "watch",
        "commands", "from", "to", "label", "topic", "group", "id", "rate_per_s", "count",
        "start_ms", "stop_ms", "config", "emits", "keys"]
keyed_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5),
    max_leaves=25)


def check(doc) -> None:
    try:
        spec = validate_scenario(doc)
    except ScenarioError as e:
        assert e.errors
        for err in e.errors:
            assert set(err) == {"path", "message"}
            assert err["path"].startswith("$") and isinstance(err["message"], str)
            assert err["message"]
        return
    # a document that passes is a spec that passes again, unchanged, and is plain JSON
    assert validate_scenario(json.loads(json.dumps(spec))) == spec


@FUZZ
@given(json_values)
def test_any_json_value(doc):
    check(doc)


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), keyed_values, max_size=8))
def test_objects_with_the_scenarios_own_keys(doc):
    check(doc)


def _spots(value, path=()):
    """Every place in a document: (path to a container, key or index)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield path, k
            yield from _spots(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield path, i
            yield from _spots(v, path + (i,))


BUILTINS = {name: raw_builtin(name) for name in BUILTIN_NAMES}
SPOTS = {name: list(_spots(doc)) for name, doc in BUILTINS.items()}


@FUZZ
@given(st.data())
def test_mutated_builtins(data):
    name = data.draw(st.sampled_from(BUILTIN_NAMES))
    doc = copy.deepcopy(BUILTINS[name])
    for _ in range(data.draw(st.integers(1, 3))):
        spots = list(_spots(doc))
        if not spots:
            break
        path, key = data.draw(st.sampled_from(spots))
        parent = doc
        for step in path:
            parent = parent[step]
        action = data.draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "replace":
            parent[key] = data.draw(keyed_values)
        elif action == "remove":
            del parent[key]
        elif isinstance(parent, dict):
            parent[data.draw(st.sampled_from(KEYS) | st.text(max_size=6))] = \
                data.draw(keyed_values)
        else:
            parent.insert(key, data.draw(keyed_values))
    check(doc)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200), st.sampled_from([None, "s.json", "s.yaml", "s.yml", "s.txt"]))
def test_any_text(text, filename):
    try:
        doc = parse_text(text, filename)
    except ScenarioError as e:
        assert e.errors and all(err["path"].startswith("$") for err in e.errors)
        return
    assert isinstance(doc, dict)
    check(doc)
