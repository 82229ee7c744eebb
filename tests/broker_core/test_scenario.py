"""The scenario loader: documents, validation with JSON paths, expansion, and running one."""

import json

import pytest

from broker_core.checkers import digest
from broker_core.scenario import (
    ScenarioError,
    build_cluster,
    expand,
    field_path,
    parse_duration,
    parse_text,
    validate_scenario,
)
from broker_core.scenarios import BUILTIN_NAMES, UnknownScenario, list_builtins, load_builtin


def errors_of(doc) -> list[dict]:
    with pytest.raises(ScenarioError) as info:
        validate_scenario(doc)
    return info.value.errors


def paths_of(doc) -> list[str]:
    return [e["path"] for e in errors_of(doc)]


def test_brokers_and_timeline_alone_make_a_scenario():
    spec = validate_scenario({"brokers": 1, "timeline": [
        {"at_ms": 0, "command": {"type": "topic.create", "name": "a"}}]})
    assert spec["brokers"] == 1 and spec["seed"] == 0 and spec["name"] == "scenario"
    assert expand(spec) == [{"at_ms": 0, "command": {"type": "topic.create", "name": "a"}}]


def test_normalizing_twice_changes_nothing():
    for name in ("amazon-orders", "signup", "rebalance", "amazon-sync-vs-async"):
        spec = load_builtin(name)
        assert validate_scenario(json.loads(json.dumps(spec))) == spec


def test_every_error_is_reported_with_its_json_path():
    doc = {
        "brokers": 0,
        "bogus": 1,
        "topics": [{"name": "x", "partitions": 5000}, 3,
                   {"name": "y", "config": {"retention.ms": "soon"}}],
        "timeline": [{"at_ms": -1, "command": {"type": "topic.create", "name": "z"}},
                     {"at_ms": 1, "command": {"type": "nope"}},
                     {"at_ms": 2, "command": {"type": "produce", "topic": "x", "value": "v",
                                              "acks": "2"}}],
        "steps": [{"title": "a", "watch": {"group": "zz"}}, {"text": "no title"}],
    }
    errors = errors_of(doc)
    paths = [e["path"] for e in errors]
    assert set(paths) == {
        "$.bogus", "$.brokers", "$.topics[1]", "$.timeline[0].at_ms",
        "$.topics[0].partitions", '$.topics[2].config["retention.ms"]',
        "$.timeline[1].command.type", "$.steps[0].watch.group", "$.steps[1].title",
        # the topic 'x' failed, so producing to it fails too: reported, and checking goes on
        "$.timeline[2].command.topic",
    }
    message = dict((e["path"], e["message"]) for e in errors)
    assert "1,000" in message["$.topics[0].partitions"]
    assert "unknown command type 'nope'" in message["$.timeline[1].command.type"]
    text = str(ScenarioError(errors))
    assert all(p in text for p in paths)


def test_a_valid_command_after_a_bad_one_is_still_checked():
    paths = paths_of({"brokers": 3, "timeline": [
        {"at_ms": 0, "command": {"type": "topic.create", "name": "a", "partitions": 0}},
        {"at_ms": 0, "command": {"type": "topic.create", "name": "b",
                                 "replication_factor": 4}},
        {"at_ms": 0, "command": {"type": "topic.create", "name": "c"}},
        {"at_ms": 0, "command": {"type": "consumer.add", "group": "g", "topics": ["c"],
                                 "commit": "never"}},
    ]})
    assert paths == ["$.timeline[0].command.partitions",
                     "$.timeline[1].command.replication_factor",
                     "$.timeline[3].command.commit"]


def test_required_keys_and_unknown_timeline_keys():
    assert set(paths_of({})) == {"$.brokers", "$.timeline"}
    assert paths_of({"brokers": 1, "timeline": [{"at": 5, "command": {"type": "x"}}]})[:2] == [
        "$.timeline[0].at", "$.timeline[0].at_ms"]
    assert paths_of({"brokers": 1, "timeline": {}}) == ["$.timeline"]
    assert paths_of([]) == ["$"]


def test_convenience_errors_point_into_the_convenience():
    doc = {"brokers": 2, "timeline": [],
           "topics": [{"name": "t", "partitions": 2, "replication_factor": 2},
                      {"name": "u", "replication_factor": 3}],
           "groups": [{"name": "g", "topics": ["t"], "assignor": "fastest", "consumers": 2,
                       "consumer": {"processing_ms": -5}},
                      {"name": "h", "topics": ["t"], "consumers": [{"commit": "sometimes"}]}],
           "producers": [{"id": "p", "topic": "t", "rate_per_s": 0, "count": 3},
                         {"id": "q", "topic": "t", "rate_per_s": 1, "keys": {"kind": "zipf"}}]}
    assert paths_of(doc) == [
        "$.topics[1].replication_factor",
        "$.groups[0].assignor",
        "$.groups[0].consumer.processing_ms",
        "$.groups[1].consumers[0].commit",
        "$.producers[0].rate_per_s",
        "$.producers[1].keys.kind",
    ]


def test_field_path_matches_keys_that_contain_dots():
    command = {"type": "topic.create", "config": {"retention.ms": 1, "min.insync.replicas": 0}}
    assert field_path(command, "config.min.insync.replicas", "$.t") == \
        '$.t.config["min.insync.replicas"]'
    assert field_path({"topics": ["a", 3]}, "topics[1]", "$.c") == "$.c.topics[1]"
    assert field_path({"group": "g"}, "group", "$.c", {"group": "$.groups[0].name"}) == \
        "$.groups[0].name"


def test_expansion_order_and_producer_count():
    spec = validate_scenario({
        "brokers": 1, "timeline": [{"at_ms": 0, "command": {"type": "produce", "topic": "t",
                                                            "value": "v"}}],
        "topics": [{"name": "t"}],
        "groups": [{"name": "g", "topics": ["t"], "consumers": 2, "assignor": "roundrobin"}],
        "producers": [{"id": "p", "topic": "t", "rate_per_s": 4, "count": 3, "start_ms": 100}],
    })
    entries = expand(spec)
    assert [(e["at_ms"], e["command"]["type"]) for e in entries] == [
        (0, "topic.create"), (0, "group.configure"), (0, "consumer.add"), (0, "consumer.add"),
        (0, "produce"), (100, "producer.add"), (601, "producer.remove")]
    cluster = build_cluster(spec)
    events = cluster.advance(5_000)
    produced = [e for e in events if e["type"] == "record.produced" and e["producer"] == "p"]
    assert [e["t_ms"] for e in produced] == [100, 350, 600]


def test_timeline_runs_in_virtual_time_outside_the_command_log():
    spec = {"brokers": 1, "seed": 4, "timeline": [
        {"at_ms": 0, "command": {"type": "topic.create", "name": "t", "partitions": 2}},
        {"at_ms": 1_000, "command": {"type": "produce", "topic": "t", "key": "k", "value": "1"}},
    ]}
    cluster = build_cluster(spec)
    first = cluster.apply({"type": "produce", "topic": "t", "key": "a", "value": "0"})
    types = [e["type"] for e in first]
    # construction and the timeline's instant-0 commands come out of the first call, before
    # the user's command: the topic already exists when the user produces to it
    assert types.index("topic.created") < types.index("record.produced")
    assert cluster.command_log == [{"at_ms": 0, "command": {
        "type": "produce", "topic": "t", "key": "a", "value": "0"}}]
    later = cluster.advance(1_000)
    assert [(e["type"], e["t_ms"]) for e in later if e["type"] == "record.produced"] == [
        ("record.produced", 1_000)]
    assert cluster.scenario["seed"] == 4 and cluster.steps == []


def test_a_timeline_command_made_invalid_by_the_user_is_announced():
    spec = {"brokers": 1, "timeline": [
        {"at_ms": 0, "command": {"type": "topic.create", "name": "t"}},
        {"at_ms": 500, "command": {"type": "produce", "topic": "t", "value": "v"}}]}
    cluster = build_cluster(spec)
    cluster.apply({"type": "topic.delete", "name": "t"})
    events = cluster.advance(1_000)
    rejected = [e for e in events if e["type"] == "command.rejected"]
    assert rejected == [{"seq": rejected[0]["seq"], "t_ms": 500, "type": "command.rejected",
                         "at_ms": 500, "command": {"type": "produce", "topic": "t",
                                                   "value": "v"},
                         "field": "topic", "message": "no topic named 't'",
                         "source": "timeline"}]


def test_seed_argument_overrides_the_documents():
    spec = load_builtin("signup")
    assert build_cluster(spec).seed == spec["seed"]
    assert build_cluster(spec, seed=99).seed == 99


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_replay_of_scenario_plus_command_log_is_identical(name):
    spec = load_builtin(name)
    live = build_cluster(spec, seed=5)
    events = []
    events += live.advance(7_000)
    events += live.apply({"type": "consumer.add", "group": "late", "topics": [
        spec["topics"][0]["name"]], "processing_ms": 5})
    events += live.advance(13_000)
    events += live.apply({"type": "produce", "topic": spec["topics"][0]["name"], "key": "x",
                          "value": "y"})
    events += live.advance(30_000)
    replayed = build_cluster(json.loads(json.dumps(live.scenario)), seed=5)
    again = []
    for entry in live.command_log:
        again += replayed.advance_to(entry["at_ms"])
        again += replayed.apply(entry["command"])
    again += replayed.advance_to(live.now_ms)
    assert len(live.command_log) == 2
    assert digest(again) == digest(events)


def test_durations():
    assert parse_duration("90s") == 90_000
    assert parse_duration("10m") == 600_000
    assert parse_duration("2h") == 7_200_000
    assert parse_duration("1d") == 86_400_000
    assert parse_duration("250ms") == 250
    assert parse_duration("1500") == 1_500
    for bad in ("", "1y", "-5s", "0", "1.5h", True, None, "366d"):
        with pytest.raises(Exception) as info:
            parse_duration(bad)
        assert info.type.__name__ == "CommandError"


def test_json_and_yaml_text():
    assert parse_text('{"brokers": 1, "timeline": []}') == {"brokers": 1, "timeline": []}
    assert parse_text("brokers: 1\ntimeline: []\n", "s.yaml") == {"brokers": 1, "timeline": []}
    assert parse_text("brokers: 1\ntimeline: []\n") == {"brokers": 1, "timeline": []}
    for text, name in (('{"brokers": ', "s.json"), ("{brokers: [", None), ("a: b: c", "s.yml"),
                       ("[1, 2]", None), ("1: x\n", "s.yaml"), ("d: 2024-01-01\n", "s.yaml"),
                       ("x" * 1_000_001, None)):
        with pytest.raises(ScenarioError) as info:
            parse_text(text, name)
        assert info.value.errors and all(e["path"].startswith("$") for e in info.value.errors)


def test_yaml_alias_bomb_is_refused_quickly():
    lines = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    with pytest.raises(ScenarioError) as info:
        parse_text("\n".join(lines), "bomb.yaml")
    assert "aliases" in info.value.errors[0]["message"]


def test_deep_nesting_is_refused():
    with pytest.raises(ScenarioError):
        parse_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ScenarioError):
        parse_text("[" * 50_000 + "]" * 50_000, "deep.yaml")
    with pytest.raises(ScenarioError):
        parse_text('{"a": ' * 70 + "1" + "}" * 70)


def test_builtins_are_listed_in_the_documented_order():
    listed = list_builtins()
    assert [b["name"] for b in listed] == list(BUILTIN_NAMES) == [
        "amazon-orders", "amazon-sync-vs-async", "youtube-upload", "signup", "broker-failure",
        "lost-write", "unclean-election", "poison-message", "timeout-24h", "rebalance"]
    for b in listed:
        assert set(b) == {"name", "title", "description", "teaches"}
        assert b["title"] and b["description"] and b["teaches"] and "\n" not in b["teaches"]


def test_unknown_builtin_is_a_clear_key_error():
    with pytest.raises(KeyError) as info:
        load_builtin("netflix")
    assert isinstance(info.value, UnknownScenario)
    assert "netflix" in str(info.value) and "amazon-orders" in str(info.value)


def test_load_builtin_returns_a_fresh_copy():
    spec = load_builtin("signup")
    spec["topics"].clear()
    assert load_builtin("signup")["topics"]


def test_limits_keep_validation_cheap():
    huge = {"brokers": 16, "timeline": [], "topics": [
        {"name": f"t{i}", "partitions": 1_000, "replication_factor": 16} for i in range(100)]}
    errors = errors_of(huge)
    # 20,000 replicas fit: the first topic (16,000) does, the second would not
    assert errors[0] == {"path": "$.topics[1].partitions", "message": "the scenario's topics "
                         "would hold more than 20,000 partition replicas in all"}
    assert len(errors) == 99
    assert paths_of({"brokers": 1, "timeline": [], "topics": [{"name": "t"}], "producers": [
        {"id": "p", "topic": "t", "rate_per_s": 0.001, "count": 100_000_000}]}) == [
        "$.producers[0].count"]
    assert paths_of({"brokers": 1, "timeline": [{"at_ms": 0, "command": {"type": "x"}}] * 10_001
                     }) == ["$.timeline"]


def test_narration_steps_are_checked():
    doc = {"brokers": 2, "timeline": [], "topics": [{"name": "t", "partitions": 2}],
           "groups": [{"name": "g", "topics": ["t"], "consumers": 1}],
           "steps": [
               {"title": "ok", "text": "fine", "watch": {"topic": "t", "partition": 1},
                "commands": [{"type": "produce", "topic": "t", "value": "v"}]},
               {"title": "ok", "watch": {"record": "t/0/5"}},
               {"title": "ok", "watch": {"group": "g"}},
               {"title": "ok", "watch": {"broker": 2}},
               {"title": "bad", "watch": {"topic": "t", "partition": 2}},
               {"title": "bad", "watch": {"record": "t/9/0"}},
               {"title": "bad", "watch": {"record": "t-0-1"}},
               {"title": "bad", "watch": {"broker": 3}},
               {"title": "bad", "watch": {"group": "g", "topic": "t"}},
               {"title": "bad", "commands": [{"type": "produce", "topic": "nope", "value": "v"},
                                             "produce"]},
               {"title": "bad", "next": 1},
           ]}
    assert paths_of(doc) == [
        "$.steps[6].watch.record", "$.steps[8].watch", "$.steps[9].commands[1]",
        "$.steps[10].next", "$.steps[4].watch.partition", "$.steps[5].watch.record",
        "$.steps[7].watch.broker", "$.steps[9].commands[0].topic"]
    good = validate_scenario({**doc, "steps": doc["steps"][:4]})
    assert good["steps"][0] == {"title": "ok", "text": "fine",
                                "watch": {"topic": "t", "partition": 1},
                                "commands": [{"type": "produce", "topic": "t", "value": "v"}],
                                "at_ms": None, "when": None, "try": None}
    assert good["steps"][1]["commands"] == [] and good["steps"][1]["text"] == ""


def test_check_scenario_name_is_the_documents_name_rule():
    from broker_core.errors import CommandError
    from broker_core.scenario import check_scenario_name

    assert check_scenario_name("amazon-orders") == "amazon-orders"
    for bad in ("", "Amazon", "-x", "a_b", "a" * 65, 7, None):
        with pytest.raises(CommandError) as caught:
            check_scenario_name(bad, "slug")
        assert caught.value.field == "slug"
        # The document check says the same thing at $.name.
        if isinstance(bad, str) and bad and len(bad) <= 64:
            with pytest.raises(ScenarioError) as doc_error:
                validate_scenario({"name": bad, "brokers": 1, "timeline": []})
            assert doc_error.value.errors == [{"path": "$.name",
                                               "message": caught.value.message}]


def test_check_size_applies_parse_texts_limits_to_parsed_values():
    from broker_core.scenario import MAX_DEPTH, MAX_NODES, check_size

    check_size({"a": [1, 2, {"b": None}]})
    deep = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(ScenarioError) as caught:
        check_size({"x": deep})
    assert caught.value.errors[0]["path"] == "$" and "deeper" in caught.value.errors[0]["message"]
    with pytest.raises(ScenarioError):
        check_size(list(range(MAX_NODES + 1)))


def test_a_key_repeated_in_json_is_an_error_at_its_path_not_silently_the_last():
    from broker_core.scenario import ScenarioError, parse_text

    text = '{"name": "a", "topics": [{"name": "t", "name": "u", "partitions": 1}], "name": "b"}'
    with pytest.raises(ScenarioError) as e:
        parse_text(text)
    assert [err["path"] for err in e.value.errors] == ["$.name", "$.topics[0].name"]
    assert parse_text('{"name": "a"}') == {"name": "a"}  # no marker left behind
