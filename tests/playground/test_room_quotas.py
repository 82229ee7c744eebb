"""A room's hard limits (playground/rooms/quotas.py, issue 11): partitions per topic and per
room, topics per room, records/s per producer and per room. Each refusal names the limit, its
value and its setting, and changes nothing; the retry and dead-letter topics a group may create
count as soon as the group could create them; a whole scenario is judged by path."""

import pytest
from django.conf import settings

from broker_core import Cluster
from broker_core.errors import CommandError
from broker_core.scenario import ScenarioError, build_cluster, validate_scenario
from broker_core.scenarios import BUILTIN_NAMES, load_builtin
from playground.rooms.quotas import QuotaError, Quotas
from playground.rooms.room import Room
from tests.playground.rooms_support import FakeClock, quiet_spec

LIMITS = Quotas()  # the defaults: 100 a topic, 300 and 50 topics a room, 1,000/s and 2,000/s


def cluster(brokers: int = 1) -> Cluster:
    return Cluster(seed=1, brokers=brokers)


def topic(name: str, partitions: int) -> dict:
    return {"type": "topic.create", "name": name, "partitions": partitions}


def refused(quotas: Quotas, c: Cluster, command: dict) -> QuotaError:
    before = c.snapshot()
    with pytest.raises(QuotaError) as caught:
        quotas.check_command(c, command)
    assert c.snapshot() == before
    return caught.value


def apply(quotas: Quotas, c: Cluster, command: dict) -> None:
    quotas.check_command(c, command)
    c.apply(command)


def test_the_defaults_are_the_settings_and_fit_a_classroom():
    assert Quotas.from_settings() == Quotas(
        topic_partitions=settings.PLAYGROUND_TOPIC_PARTITIONS_MAX,
        room_partitions=settings.PLAYGROUND_ROOM_PARTITIONS_MAX,
        room_topics=settings.PLAYGROUND_ROOM_TOPICS_MAX,
        producer_rate=settings.PLAYGROUND_PRODUCER_RATE_MAX,
        room_rate=settings.PLAYGROUND_ROOM_RATE_MAX)
    assert Quotas.from_settings() == LIMITS


def test_a_topic_of_more_partitions_than_the_limit_is_refused_naming_it():
    c = cluster()
    e = refused(LIMITS, c, topic("big", 1_000))
    assert e.field == "partitions" and e.error == "INVALID_PARTITIONS"
    assert e.message == ("at most 100 partitions per topic in this playground "
                         "(PLAYGROUND_TOPIC_PARTITIONS_MAX), not 1,000")
    assert isinstance(e, CommandError)  # every host already reports these
    # The model reads 1000.0 and "1000" as 1,000: so do the limits.
    assert refused(LIMITS, c, topic("big", 1_000.0)).field == "partitions"
    assert refused(LIMITS, c, topic("big", " 1000")).field == "partitions"
    apply(LIMITS, c, topic("fits", 100))
    e = refused(LIMITS, c, {"type": "topic.add_partitions", "name": "fits", "partitions": 101})
    assert e.setting == "PLAYGROUND_TOPIC_PARTITIONS_MAX"


def test_a_rooms_partitions_stop_at_the_limit_whichever_command_adds_them():
    c = cluster()
    for name in ("a", "b", "c"):
        apply(LIMITS, c, topic(name, 100))
    e = refused(LIMITS, c, topic("d", 1))
    assert e.error == "POLICY_VIOLATION" and e.setting == "PLAYGROUND_ROOM_PARTITIONS_MAX"
    assert e.message == ("at most 300 partitions per room in this playground "
                         "(PLAYGROUND_ROOM_PARTITIONS_MAX); this would make 301")
    apply(LIMITS, c, {"type": "topic.delete", "name": "c"})
    apply(LIMITS, c, topic("c", 50))
    apply(LIMITS, c, topic("d", 40))
    e = refused(LIMITS, c, {"type": "topic.add_partitions", "name": "d", "partitions": 51})
    assert e.field == "partitions" and e.message.endswith("this would make 301")
    apply(LIMITS, c, {"type": "topic.add_partitions", "name": "d", "partitions": 50})
    # Auto-creation (a real client's Metadata) takes num.partitions and counts the same.
    e = refused(LIMITS, c, {"type": "topic.create", "name": "auto", "auto": True})
    assert e.setting == "PLAYGROUND_ROOM_PARTITIONS_MAX"


def test_a_room_holds_at_most_the_limit_of_topics():
    c = cluster()
    for i in range(50):
        apply(LIMITS, c, topic(f"t{i}", 1))
    e = refused(LIMITS, c, {"type": "topic.create", "name": "one-more", "auto": True})
    assert e.setting == "PLAYGROUND_ROOM_TOPICS_MAX" and e.error == "POLICY_VIOLATION"
    assert e.message == ("at most 50 topics per room in this playground "
                         "(PLAYGROUND_ROOM_TOPICS_MAX); this would make 51")


def test_producer_rates_are_limited_per_producer_and_across_the_room():
    c = cluster()
    apply(LIMITS, c, topic("orders", 3))
    add = {"type": "producer.add", "topic": "orders"}
    e = refused(LIMITS, c, {**add, "id": "flood", "rate_per_s": 100_000})
    assert (e.field, e.setting) == ("rate_per_s", "PLAYGROUND_PRODUCER_RATE_MAX")
    assert e.message == ("at most 1,000 records/s per producer in this playground "
                         "(PLAYGROUND_PRODUCER_RATE_MAX), not 100,000")
    apply(LIMITS, c, {**add, "id": "a", "rate_per_s": 1_000})
    apply(LIMITS, c, {**add, "id": "b", "rate_per_s": 999.5})
    e = refused(LIMITS, c, {**add, "id": "c", "rate_per_s": 1})
    assert e.setting == "PLAYGROUND_ROOM_RATE_MAX"
    assert e.message == ("at most 2,000 records/s across a room's producers in this playground "
                         "(PLAYGROUND_ROOM_RATE_MAX); its producers send 1,999.5/s already")
    apply(LIMITS, c, {**add, "id": "c", "rate_per_s": 0.5})
    apply(LIMITS, c, {"type": "producer.remove", "id": "a"})
    apply(LIMITS, c, {**add, "id": "d", "rate_per_s": 1_000})


def test_retry_and_dead_letter_topics_count_when_a_group_could_create_them():
    """The model creates them itself, mid-run, where nothing can refuse them: 19 retry topics
    of a 100-partition topic would be 1,900 partitions from one group.configure."""
    c = cluster()
    apply(LIMITS, c, topic("orders", 100))
    apply(LIMITS, c, {"type": "consumer.add", "group": "g", "topics": ["orders"]})  # + its DLT
    e = refused(LIMITS, c, {"type": "group.configure", "group": "g", "retry_mode": "topics",
                            "max_attempts": 20})
    assert (e.field, e.setting) == ("retry_mode", "PLAYGROUND_ROOM_PARTITIONS_MAX")
    assert "counting the retry and dead-letter topics its groups may create" in e.message
    assert "this would make 2,100" in e.message
    # 100 + its DLT (100) + one more topic of 100 = 300: full, so its DLT does not fit.
    apply(LIMITS, c, topic("payments", 100))
    e = refused(LIMITS, c, {"type": "consumer.add", "group": "h", "topics": ["payments"]})
    assert e.field == "topics" and "would make 400" in e.message
    # A group reading a topic that another group already dead-letters adds nothing.
    apply(LIMITS, c, {"type": "consumer.add", "group": "g2", "topics": ["orders"]})


def test_a_room_already_past_a_limit_keeps_working_but_cannot_grow():
    c = cluster()
    for name in ("a", "b", "c", "d"):
        c.apply(topic(name, 100))  # built before the limit: 400 partitions
    apply(LIMITS, c, {"type": "produce", "topic": "a", "value": "v"})
    apply(LIMITS, c, {"type": "topic.alter_config", "name": "a",
                      "config": {"retention.ms": 1_000}})
    refused(LIMITS, c, topic("e", 1))
    apply(LIMITS, c, {"type": "topic.delete", "name": "d"})
    refused(LIMITS, c, topic("e", 1))  # 300 is the limit, and it is there


def test_commands_the_model_refuses_are_left_to_the_model():
    c = cluster()
    for command in (topic("x", "many"), {"type": "producer.add", "rate_per_s": "fast"},
                    {"type": "producer.add", "id": [], "rate_per_s": 10},
                    {"type": "consumer.add", "group": 3}, {"type": "group.configure"},
                    {"type": "topic.add_partitions", "name": "nope", "partitions": 5}, [], {}):
        LIMITS.check_command(c, command)


def test_a_room_refuses_over_the_limit_and_changes_nothing():
    clock = FakeClock()
    room = Room("r", quiet_spec(), build=build_cluster, layer=None, clock=clock)
    room.quotas = Quotas(room_partitions=10)
    room.apply(topic("fits", 8))
    before, logged = room.cluster.snapshot(), len(room.cluster.command_log)
    with pytest.raises(CommandError) as caught:
        room.apply(topic("more", 1))
    assert "PLAYGROUND_ROOM_PARTITIONS_MAX" in caught.value.message
    assert "at most 10 partitions per room" in caught.value.message
    assert room.cluster.snapshot() == before and len(room.cluster.command_log) == logged


def spec_over_limits() -> dict:
    return validate_scenario({
        "name": "greedy", "brokers": 1,
        "topics": [{"name": "orders", "partitions": 200}, {"name": "ok", "partitions": 1}],
        "producers": [{"id": "flood", "topic": "ok", "rate_per_s": 5_000}],
        "timeline": [{"at_ms": 1_000, "command": {"type": "topic.add_partitions",
                                                  "name": "ok", "partitions": 150}}],
        "steps": [{"title": "more", "commands": [
            {"type": "producer.add", "id": "p1", "topic": "ok", "rate_per_s": 1_000},
            {"type": "producer.add", "id": "p2", "topic": "ok", "rate_per_s": 1_000},
            {"type": "producer.add", "id": "p3", "topic": "ok", "rate_per_s": 1}]}]})


def test_a_scenario_over_the_limits_is_reported_at_each_path():
    errors = LIMITS.spec_errors(spec_over_limits())
    assert [e["path"] for e in errors] == [
        "$.topics[0].partitions", "$.producers[0].rate_per_s",
        "$.timeline[0].command.partitions", "$.steps[0].commands[2].rate_per_s"]
    assert "PLAYGROUND_TOPIC_PARTITIONS_MAX" in errors[0]["message"]
    assert "PLAYGROUND_PRODUCER_RATE_MAX" in errors[1]["message"]
    assert "PLAYGROUND_TOPIC_PARTITIONS_MAX" in errors[2]["message"]
    assert "PLAYGROUND_ROOM_RATE_MAX" in errors[3]["message"]
    with pytest.raises(ScenarioError) as caught:
        LIMITS.check_spec(spec_over_limits())
    assert caught.value.errors == errors
    assert Quotas(topic_partitions=1_000, producer_rate=10_000,
                  room_rate=100_000).spec_errors(spec_over_limits()) == [
        {"path": "$.timeline[0].command.partitions",
         "message": "at most 300 partitions per room in this playground "
                    "(PLAYGROUND_ROOM_PARTITIONS_MAX); this would make 350"}]


def test_a_scenarios_auto_created_topics_must_fit_one_topics_limit():
    spec = validate_scenario({"brokers": 1, "timeline": [],
                              "cluster_config": {"num.partitions": 500}})
    assert LIMITS.spec_errors(spec) == [{
        "path": '$.cluster_config["num.partitions"]',
        "message": "at most 100 partitions per topic in this playground "
                   "(PLAYGROUND_TOPIC_PARTITIONS_MAX), not 500"}]


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_the_builtin_scenarios_fit_the_default_limits(name):
    spec = validate_scenario(load_builtin(name))
    assert LIMITS.spec_errors(spec) == []
    LIMITS.check_spec(spec)


def test_every_room_of_the_process_registry_is_limited():
    """The registry a server runs (get_rooms) hands its limits to every room it makes."""
    from playground.rooms.registry import get_rooms, set_rooms

    set_rooms(None)
    try:
        rooms = get_rooms()
        assert rooms.quotas is not None
        with pytest.raises(ScenarioError) as refused:
            rooms.create({"brokers": 1, "timeline": [], "topics": [
                {"name": "huge", "partitions": 1_000, "replication_factor": 1}]})
        assert "PLAYGROUND_TOPIC_PARTITIONS_MAX" in str(refused.value)
        room = rooms.create({"brokers": 1, "timeline": []})
        with pytest.raises(CommandError, match="PLAYGROUND_TOPIC_PARTITIONS_MAX"):
            room.apply({"type": "topic.create", "name": "big", "partitions": 1_000})
    finally:
        set_rooms(None)


def test_a_consumer_that_emits_is_held_to_a_producers_rate():
    """One 1 ms consumer with a fanout of 100 turned a 10/s producer into 10,000 records/s."""
    cluster = Cluster(seed=1, brokers=1)
    for name in ("in", "out"):
        cluster.apply({"type": "topic.create", "name": name, "partitions": 1})
    quotas = Quotas()
    greedy = {"type": "consumer.add", "group": "fan", "topics": ["in"], "processing_ms": 1,
              "emits": [{"topic": "out", "fanout": 100}]}
    with pytest.raises(QuotaError) as refused:
        quotas.check_command(cluster, greedy)
    assert refused.value.field == "emits" and "PLAYGROUND_PRODUCER_RATE_MAX" in str(refused.value)
    # youtube-upload's transcode: three renditions every 4 s.
    quotas.check_command(cluster, {**greedy, "processing_ms": 4000,
                                   "emits": [{"topic": "out", "fanout": 3}]})
