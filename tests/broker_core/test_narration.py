"""Narration on the clock (broker_core/narration.py): each built-in's steps, walked as Next
walks them, reach a moment, in order, where the step's watch target is on the screen."""

import pytest

from broker_core.__main__ import default_until_ms
from broker_core.narration import EVENT_TYPES, Moments, shows, walk
from broker_core.scenario import ScenarioError, build_cluster, validate_scenario
from broker_core.scenarios import BUILTIN_NAMES, load_builtin


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_every_builtin_step_has_a_moment_in_order_showing_its_watch_target(name):
    spec = load_builtin(name)
    cluster = build_cluster(spec)
    cluster.advance(0)
    assert spec["steps"], f"{name} has no narration"
    assert not spec["steps"][0]["at_ms"] and spec["steps"][0]["when"] is None, \
        "the first step is what a room shows when it opens, at 0 ms"
    previous = 0
    for i, moment in walk(cluster, spec["steps"], default_until_ms(spec)):
        step = spec["steps"][i]
        assert moment is not None, f"{name} step {i + 1} ({step['title']}): its event never came"
        assert moment >= previous, f"{name} step {i + 1} goes back in time"
        assert cluster.now_ms == moment
        assert shows(cluster, step["watch"]) is not None, \
            f"{name} step {i + 1} ({step['title']}) watches {step['watch']}: not there at " \
            f"{moment} ms"
        previous = moment


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_builtin_steps_are_timed_not_left_to_whoever_presses_next(name):
    steps = load_builtin(name)["steps"]
    assert all(s["at_ms"] is not None or s["when"] is not None for s in steps[1:]), \
        f"{name}: every step after the first names its moment"


def test_when_waits_for_the_first_matching_event_at_or_after_at():
    doc = {"brokers": 3, "topics": [{"name": "t", "partitions": 1, "replication_factor": 3}],
           "timeline": [{"at_ms": 5000, "command": {"type": "broker.stop", "broker": 2}},
                        {"at_ms": 9000, "command": {"type": "broker.start", "broker": 2}},
                        {"at_ms": 12000, "command": {"type": "broker.stop", "broker": 2}}],
           "steps": [{"title": "start"},
                     {"title": "first stop", "when": {"type": "broker.stopped", "broker": 2}},
                     {"title": "second stop", "at": "6s",
                      "when": {"type": "broker.stopped", "broker": 2}},
                     {"title": "later", "at": "20s", "watch": {"broker": 2}}]}
    spec = validate_scenario(doc)
    cluster = build_cluster(spec)
    cluster.advance(0)
    assert list(walk(cluster, spec["steps"], 60_000)) == [(0, 0), (1, 5000), (2, 12000),
                                                          (3, 20000)]
    assert shows(cluster, {"broker": 2}) == "broker 2 down"


def test_a_step_whose_event_never_comes_has_no_moment():
    spec = validate_scenario({"brokers": 1, "timeline": [], "steps": [
        {"title": "a"}, {"title": "never", "when": {"type": "record.lost"}}]})
    cluster = build_cluster(spec)
    assert list(walk(cluster, spec["steps"], 10_000)) == [(0, 0), (1, None)]
    assert cluster.now_ms == 10_000


def test_moments_remember_the_first_match_from_a_stream():
    steps = [{"when": {"type": "broker.stopped"}, "at_ms": 100}, {"at_ms": 7}, {}]
    moments = Moments(steps)
    moments.observe([{"type": "broker.stopped", "t_ms": 50}])
    moments.observe([{"type": "broker.stopped", "t_ms": 150}, {"type": "broker.stopped",
                                                                "t_ms": 160}])
    assert [moments.moment(steps, i) for i in range(3)] == [150, 7, None]


def paths_of(doc):
    with pytest.raises(ScenarioError) as e:
        validate_scenario(doc)
    return [err["path"] for err in e.value.errors]


def test_step_moments_watch_targets_and_tries_are_checked_with_paths():
    doc = {"brokers": 2, "timeline": [], "topics": [{"name": "t", "partitions": 1}],
           "groups": [{"name": "g", "topics": ["t"], "consumers": 1}],
           "producers": [{"id": "p", "topic": "t", "rate_per_s": 1}],
           "steps": [
               {"title": "ok", "at": "10s", "watch": {"group": "g", "consumer": "g-1"},
                "try": {"topic": "t", "key": "k", "value": "v"}},
               {"title": "ok", "when": {"type": "record.acked", "topic": "t"},
                "watch": {"producer": "p"}},
               {"title": "earlier", "at": "5s"},
               {"title": "bad when", "when": {"type": "broker.exploded"}},
               {"title": "bad when key", "when": {"type": "record.lost", "colour": "red"}},
               {"title": "timed commands", "at": "20s",
                "commands": [{"type": "produce", "topic": "t", "value": "v"}]},
               {"title": "no such consumer", "watch": {"group": "g", "consumer": "g-9"}},
               {"title": "no such producer", "watch": {"producer": "q"}},
               {"title": "try nowhere", "try": {"topic": "nope"}},
               {"title": "when nowhere", "when": {"type": "record.lost", "topic": "nope"}},
               {"title": "bad at", "at": "soon"},
           ]}
    assert sorted(paths_of(doc)) == sorted([
        "$.steps[2].at", "$.steps[3].when.type", "$.steps[4].when.colour",
        "$.steps[5].commands", "$.steps[10].at", "$.steps[6].watch.consumer",
        "$.steps[7].watch.producer", "$.steps[8].try.topic", "$.steps[9].when.topic"])


def test_event_types_are_exactly_what_the_model_can_announce():
    """EVENT_TYPES is the event catalogue's (broker_core/events.py): every event type the
    model's emitters name (a constructor `ev.<type>`, or a per-record sink method
    `out.<type>`) is in it, and it names nothing that no emitter announces."""
    import glob
    import re

    from broker_core.events import BULK, method_name

    names = {method_name(kind): kind for kind in EVENT_TYPES}
    sink = {method_name(kind) for kind in BULK}
    written = set()
    for path in glob.glob("broker_core/*.py"):
        if path.endswith("events.py"):
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        written |= {names.get(n, n) for n in re.findall(r"\bev\.([a-z_]+)\b", text)}
        written |= {names[n] for n in re.findall(r"\.([a-z_]+)\(", text) if n in sink}
    assert written <= EVENT_TYPES, written - EVENT_TYPES
    assert EVENT_TYPES - written == set()


def test_event_types_name_what_the_model_announces():
    seen = set()
    for name in BUILTIN_NAMES:
        spec = load_builtin(name)
        cluster = build_cluster(spec)
        seen |= {e["type"] for e in cluster.advance(min(default_until_ms(spec), 120_000))}
    assert seen <= EVENT_TYPES, seen - EVENT_TYPES


def test_a_figure_waiting_for_an_event_that_does_not_exist_is_refused():
    doc = {"brokers": 1, "timeline": [], "figures": [
        {"label": "typo", "from": {"type": "record.produce"}, "to": {"type": "record.acked"}}]}
    assert paths_of(doc) == ["$.figures[0].from.type"]


def test_a_steps_at_is_a_duration_and_its_at_ms_a_timelines_whole_number():
    def at_ms(step):
        return validate_scenario({"brokers": 1, "timeline": [], "steps": [
            {"title": "start"}, {"title": "s", **step}]})["steps"][1]["at_ms"]

    assert at_ms({"at": "0s"}) == at_ms({"at_ms": 0}) == 0
    assert at_ms({"at": "2m"}) == at_ms({"at_ms": 120_000}) == 120_000
    assert paths_of({"brokers": 1, "timeline": [], "steps": [
        {"title": "start"}, {"title": "s", "at_ms": "5s"}]}) == ["$.steps[1].at_ms"]
