"""The `produce` command's fields: what it accepts and how it refuses the rest.

The readers it uses answer the usual case (fields absent, ASCII text, acks spelled as a string,
a topic that exists) before their general path; these pin that the answers and the refusals
(field and sentence) are the general path's, whichever way a field goes.
"""

import pytest

from broker_core import Cluster, CommandError


@pytest.fixture
def cluster():
    cluster = Cluster(seed=1, brokers=1)
    cluster.apply({"type": "topic.create", "name": "t", "partitions": 3})
    return cluster


def _produced(cluster, **fields) -> dict:
    events = cluster.apply({"type": "produce", "topic": "t", "value": "v", **fields})
    (produced,) = [e for e in events if e["type"] == "record.produced"]
    return produced


REFUSED = [
    ({"bogus": 1}, "bogus", "unknown field; this command takes: acks, headers, idempotent, key, "
                            "partition, producer, retries, topic, value"),
    ({"acks": "2"}, "acks", "must be one of '0', '1', 'all', '-1', not '2'"),
    ({"acks": 2}, "acks", "must be one of '0', '1', 'all', '-1', not '2'"),
    ({"acks": True}, "acks", "must be one of '0', '1', 'all', '-1', not True"),
    ({"partition": -1}, "partition", "must be at least 0, not -1"),
    ({"partition": 99}, "partition", "topic 't' has partitions 0 to 2; there is no partition 99"),
    ({"partition": True}, "partition", "must be a whole number, not True"),
    ({"partition": "x"}, "partition", "must be a whole number, not 'x'"),
    ({"partition": 1.5}, "partition", "must be a whole number, not 1.5"),
    ({"producer": "bad id!"}, "producer",
     "a producer id is 1-64 characters of letters, digits, '.', '_', '-'"),
    ({"producer": ""}, "producer",
     "a producer id is 1-64 characters of letters, digits, '.', '_', '-'"),
    ({"producer": 5}, "producer", "must be a string, not int"),
    ({"topic": None}, "topic", "is required"),
    ({"topic": "zz"}, "topic", "no topic named 'zz'"),
    ({"topic": 5}, "topic", "must be a string, not int"),
    ({"topic": "\ud800"}, "topic", "must be Unicode text; character 0 is a lone surrogate"),
    ({"topic": "x" * 300}, "topic", "must be at most 249 characters, not 300"),
    ({"retries": "x"}, "retries", "must be a whole number, not 'x'"),
    ({"retries": -1}, "retries", "must be at least 0, not -1"),
    ({"retries": 0}, "retries", "an idempotent producer needs retries > 0"),
    ({"idempotent": "yes"}, "idempotent", "must be true or false"),
    ({"headers": 5}, "headers", "must be null or an object of at most 50 header names to "
                                "string (or null) values"),
    ({"key": 5}, "key", "must be a string, not int"),
    ({"key": "k" * 10_001}, "key", "must be at most 10,000 characters, not 10,001"),
    ({"value": 5}, "value", "must be a string, not int"),
]


@pytest.mark.parametrize("fields,field,message", REFUSED, ids=[r[1] for r in REFUSED])
def test_a_bad_field_is_refused_by_name_and_nothing_changes(cluster, fields, field, message):
    command = {"type": "produce", "topic": "t", "value": "v", **fields}
    if fields.get("topic", "") is None:
        del command["topic"]
    seq, logged = cluster.seq, len(cluster.command_log)
    with pytest.raises(CommandError) as refused:
        cluster.apply(command)
    assert (refused.value.field, refused.value.message) == (field, message)
    assert (cluster.seq, len(cluster.command_log)) == (seq, logged)


@pytest.mark.parametrize("given,kept", [("1", "1"), (1, "1"), ("-1", "all"), (-1, "all"),
                                        ("all", "all"), ("0", "0"), (0, "0"), (None, "all")])
def test_acks_are_kept_in_one_spelling(cluster, given, kept):
    assert _produced(cluster, acks=given)["acks"] == kept


def test_null_optional_fields_read_as_absent(cluster):
    produced = _produced(cluster, partition=None, producer=None, headers=None, key=None,
                         retries=None, idempotent=None)
    assert (produced["producer"], produced.get("headers"), produced["key"]) == (
        "console", None, None)
    assert produced["why"]["method"] == "sticky"
    explicit = _produced(cluster, partition=2, producer="p-1", headers={"h": "1"}, key="k")
    assert (explicit["partition"], explicit["producer"], explicit["headers"],
            explicit["why"]) == (2, "p-1", {"h": "1"}, {"method": "explicit"})
