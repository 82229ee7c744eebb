"""A room's limits on the Kafka port (issue 11: "Three CreateTopics from any Kafka client do
that to /r/live"): CreateTopics past a limit answers as Kafka does when its CreateTopicPolicy
refuses (POLICY_VIOLATION, the reason as error_message; INVALID_PARTITIONS for one topic's
partition count), and so does Metadata's auto-creation, in the topic's error."""

import pytest

from playground.rooms.quotas import Quotas
from tests.kafka.test_semantics import metadata

POLICY_VIOLATION, INVALID_PARTITIONS = 44, 37


@pytest.fixture
def limited(live):
    # The live room with the default limits (as the registry gives every room).
    live.call(setattr, live.room, "quotas", Quotas())
    return live


def create(live, topics: list[tuple[str, int]]) -> dict:
    """CreateTopics through a real admin client: {name: None or (error name, message)}."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": live.bootstrap})
    futures = admin.create_topics([NewTopic(n, p, 1) for n, p in topics],
                                  operation_timeout=10)
    out = {}
    for name, future in futures.items():
        error = future.exception(10)
        out[name] = None if error is None else (error.args[0].name(), error.args[0].str())
    return out


def test_create_topics_past_the_limits_is_refused_as_a_policy_violation(limited):
    answers = create(limited, [(f"huge-{i}", 1_000) for i in range(3)])
    for name in ("huge-0", "huge-1", "huge-2"):
        error, message = answers[name]
        assert error == "INVALID_PARTITIONS"
        assert "at most 100 partitions per topic" in message
        assert "PLAYGROUND_TOPIC_PARTITIONS_MAX" in message
    assert not any(name.startswith("huge") for name in limited.snapshot()["topics"])

    assert create(limited, [("big-0", 100), ("big-1", 100), ("big-2", 100)]) == {
        "big-0": None, "big-1": None, "big-2": None}
    error, message = create(limited, [("one-more", 1)])["one-more"]
    assert error == "POLICY_VIOLATION"
    assert ("at most 300 partitions per room in this playground "
            "(PLAYGROUND_ROOM_PARTITIONS_MAX); this would make 301") in message
    partitions = sum(len(t["partitions"]) for t in limited.snapshot()["topics"].values())
    assert partitions == 300


def test_auto_creation_past_the_limits_answers_policy_violation_in_metadata(limited):
    limited.call(setattr, limited.room, "quotas", Quotas(room_topics=2))
    [first] = metadata(limited, ["auto-1"]).topics
    [second] = metadata(limited, ["auto-2"]).topics
    # Created: Kafka 4 answers the creating request UNKNOWN_TOPIC_OR_PARTITION (3), and the
    # topics exist for the next one.
    assert (first.error_code, second.error_code) == (3, 3)
    assert {"auto-1", "auto-2"} <= set(limited.snapshot()["topics"])
    [third] = metadata(limited, ["auto-3"]).topics
    assert (third.name, third.error_code) == ("auto-3", POLICY_VIOLATION)
    assert "auto-3" not in limited.snapshot()["topics"]

    # Kafka's auto-creation passes the CreateTopics error through: a broker whose
    # num.partitions is past one topic's limit answers INVALID_PARTITIONS there too.
    limited.call(limited.room.cluster.config.__setitem__, "num.partitions", 2)
    limited.call(setattr, limited.room, "quotas", Quotas(topic_partitions=1, room_topics=9))
    [wide] = metadata(limited, ["wide"]).topics
    assert wide.error_code == INVALID_PARTITIONS and "wide" not in limited.snapshot()["topics"]
