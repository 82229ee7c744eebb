"""Static membership over the wire (librdkafka's group.instance.id): a consumer that restarts
gets its partitions back at once, and the other member keeps its own throughout."""

import time

from confluent_kafka import Consumer

from .conftest import Live


def consumer(live, instance: str) -> Consumer:
    c = Consumer({"bootstrap.servers": live.bootstrap, "group.id": "static",
                  "group.instance.id": instance, "session.timeout.ms": 30_000,
                  "auto.offset.reset": "earliest", "partition.assignment.strategy": "range"})
    c.subscribe(["s"])
    return c


def wait_assigned(consumers, timeout_s: float = 20) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for c in consumers:
            c.poll(0.1)
        got = [sorted(tp.partition for tp in c.assignment()) for c in consumers]
        if all(got) and sum(len(g) for g in got) == 4:
            return got
    raise AssertionError(f"not assigned in {timeout_s} s: {got}")


def test_a_restarted_static_consumer_gets_its_partitions_back_without_a_rebalance():
    live = Live()
    try:
        live.apply({"type": "topic.create", "name": "s", "partitions": 4,
                    "replication_factor": 1})
        a, b = consumer(live, "inst-a"), consumer(live, "inst-b")
        before = wait_assigned([a, b])
        generation = live.snapshot()["groups"]["static"]["generation"]
        b.close()  # a static member sends no LeaveGroup: its place waits for it
        started = time.monotonic()
        b2 = consumer(live, "inst-b")
        after = wait_assigned([a, b2])
        assert time.monotonic() - started < 10  # well inside the 30 s session timeout
        assert after == before
        group = live.snapshot()["groups"]["static"]
        assert group["generation"] == generation and group["state"] == "Stable"
        a.close()
        b2.close()
    finally:
        live.close()
