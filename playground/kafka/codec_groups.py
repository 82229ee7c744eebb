"""The consumer protocol's payloads, behind the same thin adapter as codec.py.

Besides codec.py this is the only module that imports ``kafka.*`` (kafka-python 3's
generated ConsumerProtocolSubscription / ConsumerProtocolAssignment). Group members' metadata
and the leader's assignments are opaque bytes to a Kafka broker, and stay opaque to the model
(base64 in commands); these decoders only read out the topics a member subscribes to and the
partitions it was given, so the page can show them. Anything that does not decode (another
protocol type, a newer or broken payload) reads as None: the bytes still go through untouched.
"""

import base64

from kafka.protocol.consumer.metadata import (
    ConsumerProtocolAssignment,
    ConsumerProtocolSubscription,
)

CONSUMER_PROTOCOL_TYPE = "consumer"


def b64(data: bytes | None) -> str:
    return base64.b64encode(bytes(data or b"")).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def subscription_topics(metadata: bytes | None) -> list[str] | None:
    """The topics of a ConsumerProtocolSubscription (any version), or None."""
    if not metadata:
        return None
    try:
        sub = ConsumerProtocolSubscription.decode(bytes(metadata))
        topics = list(sub.topics or [])
    except Exception:  # kafka-python raises struct.error, ValueError, IndexError, ...
        return None
    if not all(isinstance(t, str) for t in topics):
        return None
    return topics


def assignment_partitions(assignment: bytes | None) -> list[list] | None:
    """The [topic, partition] pairs of a ConsumerProtocolAssignment, or None. Empty bytes are
    an empty assignment (what the coordinator gives members the leader left out)."""
    if not assignment:
        return []
    try:
        decoded = ConsumerProtocolAssignment.decode(bytes(assignment))
        pairs = [[tp.topic, int(p)] for tp in decoded.assigned_partitions or []
                 for p in tp.partitions or []]
    except Exception:
        return None
    if not all(isinstance(t, str) and p >= 0 for t, p in pairs):
        return None
    return pairs


def encode_subscription(topics: list[str], version: int = 0) -> bytes:
    """For tests: what a consumer puts in its JoinGroup."""
    sub = ConsumerProtocolSubscription(topics=topics, user_data=None, owned_partitions=[],
                                       generation_id=-1, version=version)
    return bytes(sub.encode(version=version))


def encode_assignment(pairs: list[tuple[str, int]], version: int = 0) -> bytes:
    """For tests: what a leader puts in its SyncGroup for one member."""
    by_topic: dict[str, list[int]] = {}
    for topic, partition in pairs:
        by_topic.setdefault(topic, []).append(partition)
    assigned = [ConsumerProtocolAssignment.TopicPartition(topic=t, partitions=ps)
                for t, ps in by_topic.items()]
    data = ConsumerProtocolAssignment(assigned_partitions=assigned, user_data=None,
                                      version=version)
    return bytes(data.encode(version=version))
