"""A recorded room, made by the real model, in the room protocol's shapes (protocol.md).

The page is built and checked against this before (and besides) the live backend: a snapshot
message, then frames of events. It is the same data a room would send, because it comes from
`broker_core.Cluster`; only the transport is missing.

    python tests/browser/recording.py > /tmp/recording.json
"""

import json
import sys

from broker_core import Cluster, CommandError

SERVICES = (("inventory", 2), ("seller", 1), ("notification", 3), ("invoice", 2), ("delivery", 1))
FRAME_MS = 100


def scenario() -> dict:
    return {
        "name": "amazon-orders",
        "title": "Amazon order placement",
        "description": "An order is placed once; five services each get their own copy.",
        "teaches": "Consumer groups, keys and partitions, replication.",
        "steps": [
            {
                "title": "One topic, three partitions",
                "text": "order-placed has 3 partitions, each on 3 brokers: "
                "one leader, two followers.",
                "watch": {"topic": "order-placed", "partition": 0},
            },
            {
                "title": "Five services",
                "text": "Each service is a consumer group. Every group gets every order.",
                "watch": {"group": "inventory"},
            },
            {
                "title": "A key picks the partition",
                "text": "order-17 hashes to partition 1: watch it land.",
                "commands": [
                    {
                        "type": "produce",
                        "topic": "order-placed",
                        "key": "order-17",
                        "value": "order 17 placed",
                    }
                ],
                "watch": {"topic": "order-placed", "partition": 1},
            },
        ],
    }


def build(until_ms: int = 20_000, seed: int = 7) -> dict:
    cluster = Cluster(seed=seed, brokers=3)
    events = cluster.apply(
        {
            "type": "topic.create",
            "name": "order-placed",
            "partitions": 3,
            "replication_factor": 3,
            "config": {"min.insync.replicas": 2},
        }
    )
    events += cluster.apply(
        {
            "type": "topic.create",
            "name": "order-placed-dlt",
            "partitions": 3,
            "replication_factor": 3,
        }
    )
    for group, count in SERVICES:
        for _ in range(count):
            events += cluster.apply(
                {
                    "type": "consumer.add",
                    "group": group,
                    "topics": ["order-placed"],
                    "processing_ms": 150,
                }
            )
    snapshot = cluster.snapshot()
    seq = cluster.seq
    # What happens after the snapshot streams as frames.
    script = {
        1_000: {"type": "producer.add", "id": "checkout", "topic": "order-placed", "rate_per_s": 3},
        6_000: {
            "type": "produce",
            "topic": "order-placed",
            "key": "order-17",
            "value": "<img src=x onerror=alert(1)>",
            "headers": {"source": "web"},
        },
        9_000: {"type": "consumer.crash", "group": "notification", "id": "notification-2"},
        12_000: {"type": "broker.stop", "broker": 2, "mode": "crash"},
    }
    frames = []
    stream = []
    for t in range(0, until_ms, FRAME_MS):
        batch = cluster.advance_to(t) if t > cluster.now_ms else []
        if t in script:
            try:
                batch += cluster.apply(script[t])
            except CommandError as error:  # broker.stop may not exist in this model yet
                print(f"skipped {script[t]['type']}: {error}", file=sys.stderr)
        stream += batch
        if batch or t % 1000 == 0:
            first = seq + 1
            seq = batch[-1]["seq"] if batch else seq
            frames.append(
                {
                    "type": "frame",
                    "from_seq": first,
                    "to_seq": seq,
                    "clock": {"now_ms": t, "speed": 1, "playing": True},
                    "events": batch,
                    "aggregates": [],
                }
            )
    room = {
        "id": "recorded",
        "scenario": scenario(),
        "clock": {"now_ms": snapshot["now_ms"], "speed": 1, "playing": True},
        "narration_step": 0,
        "viewers": 1,
        "limits": {},
        "notices": [],
    }
    return {
        "snapshot": {"type": "snapshot", "seq": snapshot["seq"], "state": snapshot, "room": room},
        "frames": frames,
    }


if __name__ == "__main__":
    json.dump(build(), sys.stdout)
