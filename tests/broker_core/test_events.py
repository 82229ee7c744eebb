"""The catalogue of events (broker_core/events.py): every emitter uses its constructors with
the catalogue's fields, every event a run announces matches it, the docs and the page list the
same types, and a folding sink counts what the dicts would have said."""

import ast
import collections
import re
from pathlib import Path

import pytest

from broker_core import Cluster, events
from broker_core.__main__ import BUILTIN_NAMES, markdown
from broker_core.events import BULK, CATALOGUE, Events, Folding, check, method_name
from broker_core.narration import EVENT_TYPES
from broker_core.scenario import build_cluster
from broker_core.scenarios import load_builtin
from tests.broker_core.aggregates import by_key, expected_aggregates

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "broker_core"


def _calls():
    """Every call in broker_core's source, with its file and line."""
    for path in sorted(CORE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                yield path.name, node


def test_every_structural_emitter_uses_a_catalogue_constructor_with_its_fields():
    constructors = 0
    for name, call in _calls():
        f = call.func
        if not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)
                and f.value.id == "ev" and f.attr.islower()):
            continue
        kind = next((k for k in CATALOGUE if method_name(k) == f.attr), None)
        assert kind is not None and kind not in BULK, \
            f"{name}:{call.lineno}: ev.{f.attr} is not a structural event's constructor"
        spec = CATALOGUE[kind]
        given = {k.arg for k in call.keywords if k.arg is not None}
        splat = any(k.arg is None for k in call.keywords)
        unknown = given - set(spec.required) - set(spec.optional)
        assert not unknown, f"{name}:{call.lineno}: {kind} has no field {sorted(unknown)}"
        if not splat:
            missing = set(spec.required) - given
            assert not missing, f"{name}:{call.lineno}: {kind} lacks {sorted(missing)}"
        constructors += 1
    assert constructors > 60


def test_no_event_is_built_outside_the_catalogue():
    """`cluster.event(...)` is the constructors' own stamping; nothing else calls it, and no
    module but events.py writes an event dict literal."""
    for name, call in _calls():
        f = call.func
        if isinstance(f, ast.Attribute) and f.attr == "event" and name != "events.py":
            raise AssertionError(f"{name}:{call.lineno}: emits with .event(); use a "
                                 "constructor from broker_core/events.py")
    for path in sorted(CORE.glob("*.py")):
        if path.name == "events.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        stamping = {id(n) for f in ast.walk(tree)
                    if isinstance(f, ast.FunctionDef) and f.name == "event"
                    and path.name == "cluster.py" for n in ast.walk(f)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict) and id(node) not in stamping:
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                assert not {"seq", "t_ms"} <= keys, \
                    f"{path.name}:{node.lineno}: an event dict built outside the catalogue"


def test_every_per_record_emitter_calls_a_sink_method_the_catalogue_has():
    sink_methods = {method_name(k) for k in BULK}
    assert all(callable(getattr(Events, m)) and callable(getattr(Folding, m))
               for m in sink_methods)
    used = collections.Counter()
    for _, call in _calls():
        f = call.func
        if isinstance(f, ast.Attribute) and f.attr in sink_methods:
            used[f.attr] += 1
    assert set(used) == sink_methods, f"per-record types never emitted: " \
                                      f"{sorted(sink_methods - set(used))}"


def _run(name: str, seed=None, sink=None):
    spec = load_builtin(name)
    cluster = build_cluster(spec, spec["seed"] if seed is None else seed)
    held = cluster.seq  # building applies the scenario's first commands: already dicts
    if sink is not None:
        cluster.use_sink(sink)
    out = cluster.advance(spec["duration_ms"] or 120_000)
    return cluster, out, held


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_every_event_of_a_builtin_scenario_matches_the_catalogue(name):
    _, out, _ = _run(name)
    seen = set()
    for event in out:
        problem = check(event)
        assert problem is None, f"seq {event['seq']}: {problem}"
        seen.add(event["type"])
    assert "broker.started" in seen


def test_narration_docs_and_page_list_the_catalogue_types():
    assert EVENT_TYPES == set(CATALOGUE)
    assert (ROOT / "docs" / "EVENTS.md").read_text(encoding="utf-8") == markdown(), \
        "docs/EVENTS.md is stale: python -m broker_core events > docs/EVENTS.md"
    log = (ROOT / "static" / "playground" / "eventlog.js").read_text(encoding="utf-8")
    described = set(re.findall(r'case "([a-z_]+\.[a-z_]+)"', log))
    assert described and described <= set(CATALOGUE), sorted(described - set(CATALOGUE))
    per_record = re.search(r"const RECORD_TYPES = /\^\((.*)\)\$/;", log).group(1)
    # The page's per-record switch hides exactly the catalogue's per-record types.
    expanded = set()
    for alt in re.findall(r"[a-z_]+\\\.\([^)]*\)|[a-z_]+\\\.[a-z_]+", per_record):
        head, _, rest = alt.partition("\\.")
        names = rest.strip("()").split("|")
        expanded |= {f"{head}.{n}" for n in names}
    assert expanded == set(BULK)


def test_a_constructor_refuses_a_field_the_catalogue_does_not_list():
    cluster = Cluster(seed=1, brokers=1)
    with pytest.raises(TypeError, match="unknown colour"):
        events.topic_deleted(cluster, topic="t", colour="red")
    with pytest.raises(TypeError, match="missing topic"):
        events.topic_deleted(cluster)


@pytest.mark.parametrize("name", ["amazon-orders", "poison-message", "broker-failure"])
def test_a_folding_sink_counts_what_the_dicts_would_say(name):
    """The same run twice: once with every event a dict, once folding the per-record ones.
    The structural events are the same dicts with the same seq; each folded aggregate counts
    exactly the per-record events of its (type, topic, partition, group), with their first
    and last offset and seq."""
    _, whole, _ = _run(name)
    folding = Folding([])
    cluster, structural, held = _run(name, sink=folding)
    aggregates = folding.take()
    assert [e for e in whole if e["type"] not in BULK or e["seq"] <= held] == structural
    expected = expected_aggregates(whole, after_seq=held)
    got = by_key(aggregates)
    assert got == expected
    assert sum(a["count"] for a in aggregates) > 100
    assert cluster.seq == whole[-1]["seq"]


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_a_summary_from_folded_events_is_the_summary_from_dicts(name):
    """`python -m broker_core run NAME` folds per-record events when the scenario has no
    figures; its summary is the one a run that built every dict prints."""
    import io

    from broker_core.__main__ import default_until_ms, parser, run
    from broker_core.report import RunSummary, format_summary

    spec = load_builtin(name)
    out = io.StringIO()
    run(parser().parse_args(["run", name]), out)
    until = default_until_ms(spec)
    cluster = build_cluster(spec, spec["seed"])
    summary = RunSummary(spec)
    summary.feed(cluster.advance(0))
    while cluster.now_ms < until:
        summary.feed(cluster.advance(min(60_000, until - cluster.now_ms)))
    summary.finish(cluster.snapshot())
    assert out.getvalue() == format_summary(spec, spec["seed"], until, summary)


def test_a_resent_record_says_retry_before_its_headers_and_a_first_send_headers_before_cause():
    """The order of record.produced's optional fields is the one both appends always wrote:
    a resend's retry (and duplicate_of) first, then the record's headers, then its cause."""
    cluster = Cluster(seed=1, brokers=1)
    cluster.apply({"type": "topic.create", "name": "t", "partitions": 1})
    cluster.advance(0)
    cluster.apply({"type": "broker.stop", "broker": 1, "mode": "crash"})
    failed = cluster.apply({"type": "produce", "topic": "t", "key": "k", "value": "v",
                            "headers": {"h": "1"}, "acks": "1"})
    assert [e["will_retry"] for e in failed if e["type"] == "produce.failed"] == [True]
    cluster.apply({"type": "broker.start", "broker": 1})
    resent = [e for e in cluster.advance(60_000) if e["type"] == "record.produced"]
    assert len(resent) == 1
    assert list(resent[0])[-2:] == ["retry", "headers"]
    first = [e for e in cluster.apply({"type": "produce", "topic": "t", "key": "k",
                                       "value": "v", "headers": {"h": "1"}, "acks": "1"})
             if e["type"] == "record.produced"]
    assert list(first[0])[-1] == "headers" and "retry" not in first[0]
