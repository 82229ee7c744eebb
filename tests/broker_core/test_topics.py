"""Topic commands: Kafka's names, configs and defaults; bad input changes nothing."""

import json

import pytest

from broker_core import Cluster, CommandError
from broker_core.partitioner import partition_for_key

from .helpers import cluster_with_topic, of_type


def refused(cluster: Cluster, command: dict) -> CommandError:
    before = json.dumps(cluster.snapshot(), sort_keys=True)
    seq = cluster.seq
    with pytest.raises(CommandError) as info:
        cluster.apply(command)
    assert json.dumps(cluster.snapshot(), sort_keys=True) == before
    assert cluster.seq == seq
    return info.value


def test_create_uses_kafkas_defaults_and_announces_the_assignment():
    cluster = Cluster(seed=7, brokers=3)
    events = cluster.apply({"type": "topic.create", "name": "order-placed", "partitions": 3,
                            "replication_factor": 3, "config": {"min.insync.replicas": 2}})
    created = of_type(events, "topic.created")[0]
    assert created["config"] == {
        "retention.ms": 604_800_000, "retention.bytes": -1, "cleanup.policy": "delete",
        "min.insync.replicas": 2, "unclean.leader.election.enable": False,
        "max.message.bytes": 1_048_588}
    assert len(created["assignment"]) == 3
    for replicas in created["assignment"]:
        assert sorted(replicas) == [1, 2, 3]
    # Leaders spread: Kafka's round-robin placement gives each broker one preferred leader.
    assert sorted(r[0] for r in created["assignment"]) == [1, 2, 3]
    part = cluster.snapshot()["topics"]["order-placed"]["partitions"][0]
    assert part["leader"] == part["replicas"][0]
    assert part["isr"] == part["replicas"]
    assert (part["log_start_offset"], part["log_end_offset"], part["high_watermark"]) == (0, 0, 0)


def test_replica_placement_follows_kafkas_rack_unaware_assignment():
    # AdminUtils.assignReplicasToBrokers with 5 brokers, start index 0, shift 0 (worked by hand
    # from Kafka's algorithm): first replica p % 5; the rest shift by one more every 5 partitions.
    from broker_core.topic import assign_replicas
    got = assign_replicas([0, 1, 2, 3, 4], 10, 3, start_index=0, replica_shift=0)
    assert got[:5] == [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 0], [4, 0, 1]]
    assert got[5:] == [[0, 2, 3], [1, 3, 4], [2, 4, 0], [3, 0, 1], [4, 1, 2]]


@pytest.mark.parametrize("name,rule", [
    ("", "empty"), (".", "'.' or '..'"), ("..", "'.' or '..'"), ("a" * 250, "at most 249"),
    ("bad name!", "only contain"), ("ordér", "only contain"), (17, "string"),
])
def test_topic_names_follow_kafkas_rules(name, rule):
    cluster = Cluster(seed=1, brokers=1)
    error = refused(cluster, {"type": "topic.create", "name": name})
    assert error.field == "name" and rule in error.message


def test_longest_legal_name_and_every_legal_character_are_accepted():
    cluster = Cluster(seed=1, brokers=1)
    cluster.apply({"type": "topic.create", "name": "a" * 249})
    cluster.apply({"type": "topic.create", "name": "Az09._-"})


def test_names_that_differ_only_in_dot_and_underscore_collide():
    cluster = cluster_with_topic(name="orders.eu")
    error = refused(cluster, {"type": "topic.create", "name": "orders_eu"})
    assert "collides" in error.message


@pytest.mark.parametrize("command,field", [
    ({"type": "topic.create", "name": "t", "partitions": 0}, "partitions"),
    ({"type": "topic.create", "name": "t", "partitions": "many"}, "partitions"),
    ({"type": "topic.create", "name": "t", "partitions": True}, "partitions"),
    ({"type": "topic.create", "name": "t", "partitions": "--2"}, "partitions"),
    ({"type": "topic.create", "name": "t", "partitions": "²"}, "partitions"),
    ({"type": "topic.alter_config", "name": "order-placed", "config": {"retention.bytes": "¹"}},
     "config.retention.bytes"),
    ({"type": "topic.create", "name": "t", "replication_factor": 4}, "replication_factor"),
    ({"type": "topic.create", "name": "t", "config": {"retention.ms": -2}},
     "config.retention.ms"),
    ({"type": "topic.create", "name": "t", "config": {"retention.ms": "soon"}},
     "config.retention.ms"),
    ({"type": "topic.create", "name": "t", "config": {"min.insync.replicas": 0}},
     "config.min.insync.replicas"),
    ({"type": "topic.create", "name": "t", "config": {"unclean.leader.election.enable": 1}},
     "config.unclean.leader.election.enable"),
    ({"type": "topic.create", "name": "t", "config": {"segment.ms": 1}}, "config.segment.ms"),
    ({"type": "topic.create", "name": "t", "config": {"cleanup.policy": "compact"}},
     "config.cleanup.policy"),
    ({"type": "topic.create", "name": "t", "replicationFactor": 2}, "replicationFactor"),
    ({"type": "topic.create", "name": "order-placed"}, "name"),
    ({"type": "topic.delete", "name": "nope"}, "name"),
    ({"type": "topic.add_partitions", "name": "order-placed", "partitions": 2}, "partitions"),
    ({"type": "topic.add_partitions", "name": "order-placed", "partitions": 3}, "partitions"),
    ({"type": "topic.alter_config", "name": "order-placed", "config": {"retention.bytes": "x"}},
     "config.retention.bytes"),
    ({"type": "nonsense"}, "type"),
    ({"type": []}, "type"),
    ({"type": "produce", "topic": "order-placed", "value": "v", "headers": {1: "x"}}, "headers"),
    ({"type": "produce", "topic": "order-placed", "value": "v", "headers": {"": "x"}}, "headers"),
    ({"type": {"a": 1}}, "type"),
    ({"type": "broker.stop", "broker": 9}, "broker"),
    ({"type": "broker.stop", "broker": 1, "mode": "gently"}, "mode"),
    ({"type": "broker.start", "broker": 1}, "broker"),
    ({"type": "broker.configure", "broker": 1, "replica_fetch_delay_ms": -1},
     "replica_fetch_delay_ms"),
    ({"type": "produce", "topic": "order-placed", "value": "v", "acks": "1",
      "idempotent": True}, "idempotent"),
    ({"type": "produce", "topic": "order-placed", "value": "v", "retries": -1}, "retries"),
    ({"type": "producer.add", "id": "p", "topic": "order-placed", "rate_per_s": 1,
      "acks": "0", "idempotent": True}, "idempotent"),
    ({"type": "produce", "topic": "order-placed", "value": "v", "retries": 0}, "retries"),
])
def test_invalid_commands_name_the_field_and_change_nothing(command, field):
    cluster = cluster_with_topic()
    error = refused(cluster, command)
    assert error.field == field
    assert error.message


def test_config_values_may_arrive_as_strings_like_kafkas_admin_api_sends_them():
    cluster = Cluster(seed=1, brokers=1)
    events = cluster.apply({"type": "topic.create", "name": "t", "config": {
        "retention.ms": "60000", "unclean.leader.election.enable": "true"}})
    config = of_type(events, "topic.created")[0]["config"]
    assert config["retention.ms"] == 60_000
    assert config["unclean.leader.election.enable"] is True


def test_alter_config_changes_and_resets():
    cluster = cluster_with_topic()
    events = cluster.apply({"type": "topic.alter_config", "name": "order-placed",
                            "config": {"retention.ms": 1000}})
    changed = of_type(events, "topic.config_changed")[0]
    assert changed["changes"] == {"retention.ms": 1000}
    assert changed["previous"] == {"retention.ms": 604_800_000}
    cluster.apply({"type": "topic.alter_config", "name": "order-placed",
                   "config": {"retention.ms": None}})
    assert cluster.snapshot()["topics"]["order-placed"]["config"]["retention.ms"] == 604_800_000


def test_adding_partitions_moves_keys_and_keeps_placement_going():
    cluster = cluster_with_topic(partitions=3, rf=2)
    key = next(k for k in (f"order-{i}" for i in range(100))
               if partition_for_key(k, 3) != partition_for_key(k, 5))
    before = of_type(cluster.apply({"type": "produce", "topic": "order-placed", "key": key,
                                    "value": "a"}), "record.produced")[0]["partition"]
    events = cluster.apply({"type": "topic.add_partitions", "name": "order-placed",
                            "partitions": 5})
    added = of_type(events, "topic.partitions_added")[0]
    assert added["previous"] == 3 and added["partitions"] == 5
    assert len(added["assignment"]) == 2 and all(len(r) == 2 for r in added["assignment"])
    after = of_type(cluster.apply({"type": "produce", "topic": "order-placed", "key": key,
                                   "value": "b"}), "record.produced")[0]["partition"]
    assert before != after  # the lesson: growing a keyed topic breaks per-key order


def test_delete_removes_the_topic_and_its_zookeeper_nodes():
    cluster = cluster_with_topic()
    cluster.apply({"type": "produce", "topic": "order-placed", "key": "k", "value": "v"})
    events = cluster.apply({"type": "topic.delete", "name": "order-placed"})
    assert of_type(events, "topic.deleted")
    deleted = {e["path"] for e in of_type(events, "zk.node_deleted")}
    assert "/brokers/topics/order-placed" in deleted
    snap = cluster.snapshot()
    assert "order-placed" not in snap["topics"]
    assert not any(p.startswith("/brokers/topics/order-placed") for p in snap["zookeeper"])
    # The name is free again, and the new topic starts from offset 0.
    cluster.apply({"type": "topic.create", "name": "order-placed"})
    events = cluster.apply({"type": "produce", "topic": "order-placed", "value": "v"})
    assert of_type(events, "record.produced")[0]["offset"] == 0


def test_construction_events_come_out_of_the_first_call():
    cluster = Cluster(seed=3, brokers=3)
    events = cluster.advance(0)
    kinds = [e["type"] for e in events]
    assert kinds.count("broker.started") == 3
    assert of_type(events, "controller.elected") == [
        {"seq": 9, "t_ms": 0, "type": "controller.elected", "broker": 1, "epoch": 1}]
    paths = [e["path"] for e in of_type(events, "zk.node_created")]
    assert paths == ["/brokers/ids/1", "/brokers/ids/2", "/brokers/ids/3", "/controller",
                     "/controller_epoch"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert cluster.snapshot()["controller"] == 1


def test_cluster_construction_is_validated():
    for kwargs, field in (({"brokers": 0}, "brokers"), ({"brokers": 17}, "brokers"),
                          ({"brokers": "3"}, "brokers"), ({"seed": 1.5}, "seed"),
                          ({"config": {"nope": 1}}, "config.nope")):
        with pytest.raises(CommandError) as info:
            Cluster(**kwargs)
        assert info.value.field == field


@pytest.mark.parametrize("field, command", [
    ("value", {"value": "a\ud800b"}),
    ("key", {"key": "\udfff", "value": "v"}),
    ("headers", {"value": "v", "headers": {"n\ud800": "x"}}),
    ("headers.n", {"value": "v", "headers": {"n": "\ud800"}}),
])
def test_a_lone_surrogate_is_refused_at_its_field_and_changes_nothing(field, command):
    """JSON allows "\\ud800"; the model names the field rather than failing inside apply."""
    cluster = Cluster(seed=1)
    cluster.apply({"type": "topic.create", "name": "t", "partitions": 1})
    seq = cluster.seq
    with pytest.raises(CommandError) as e:
        cluster.apply({"type": "produce", "topic": "t", **command})
    assert e.value.field == field and "surrogate" in e.value.message
    assert cluster.seq == seq
