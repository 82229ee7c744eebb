"""Every built-in scenario, run headless, shows what it claims to teach (its `teaches` line).

Each test names the teaching point it checks. Scenarios that need broker.stop/start (main's
replication work) or the delivery layer fail with a ScenarioError naming the missing command
until those are merged.
"""

import time
from collections import Counter, defaultdict

import pytest

from broker_core.checkers import DeliveryChecker, check_ownership, digest
from broker_core.report import RunSummary
from broker_core.scenario import build_cluster
from broker_core.scenarios import BUILTIN_NAMES, load_builtin


def run(name: str, until_ms: int | None = None, seed=None):
    spec = load_builtin(name)
    cluster = build_cluster(spec, seed=seed)
    events = cluster.advance(until_ms if until_ms is not None else spec["duration_ms"])
    return spec, cluster, events


def of(events, kind, **match):
    return [e for e in events if e["type"] == kind
            and all(e.get(k) == v for k, v in match.items())]


def owners_by_partition(events, group, topic):
    """Every consumer that processed each partition of `topic` in `group`."""
    owners = defaultdict(set)
    for e in of(events, "record.processed", group=group, topic=topic):
        owners[e["partition"]].add(e["consumer"])
    return owners


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_every_builtin_has_a_duration_and_runs_the_same_twice(name):
    spec, _, events = run(name)
    assert spec["duration_ms"] is not None and spec["steps"]
    assert not of(events, "command.rejected")
    _, _, again = run(name)
    assert digest(again) == digest(events)


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_every_builtin_keeps_the_invariants(name):
    """Invariants 1 (dense offsets, each group in order), 2 (one owner per partition) and 4
    (every record processed, dead-lettered or announced) over the whole run."""
    _, cluster, events = run(name)
    checker = DeliveryChecker()
    checker.feed(events)
    snapshot = cluster.snapshot()
    assert check_ownership(snapshot) == []
    assert checker.unresolved(snapshot) == []


def test_amazon_orders_each_service_processes_every_order_exactly_once():
    _, _, events = run("amazon-orders")
    placed = {(e["partition"], e["offset"]): e["key"]
              for e in of(events, "record.produced", topic="order-placed")}
    assert len(placed) == 60 and {p for p, _ in placed} == {0, 1, 2}
    for group in ("inventory", "seller", "notification", "invoice", "delivery"):
        processed = Counter((e["partition"], e["offset"])
                            for e in of(events, "record.processed", group=group,
                                        topic="order-placed"))
        assert set(processed) == set(placed), group
        assert set(processed.values()) == {1}, group
        # inside a group each partition, so each order, belongs to exactly one consumer
        assert all(len(c) == 1 for c in owners_by_partition(events, group,
                                                            "order-placed").values())
    # notification has a consumer per partition; seller one consumer for all three
    assert len(set().union(*owners_by_partition(events, "notification",
                                                "order-placed").values())) == 3
    assert len(set().union(*owners_by_partition(events, "seller",
                                                "order-placed").values())) == 1
    # the cancellation carries the order's key, so it lands in the same partition number
    cancelled = of(events, "record.produced", topic="order-cancelled")
    assert [e["key"] for e in cancelled] == ["order-7"]
    placed7 = of(events, "record.produced", topic="order-placed", key="order-7")[0]
    assert cancelled[0]["partition"] == placed7["partition"]
    for group in ("inventory", "seller", "notification", "invoice", "delivery"):
        assert len(of(events, "record.processed", group=group, topic="order-cancelled")) == 1


def test_amazon_sync_vs_async_the_customer_waits_for_the_sum_or_for_one_ack():
    spec, cluster, events = run("amazon-sync-vs-async")
    summary = RunSummary(spec)
    summary.feed(events)
    summary.finish(cluster.snapshot())
    figures = summary.as_dict()["figures"]
    sync, asynchronous, invoice = figures
    services = {g["name"]: g["consumer"]["processing_ms"] for g in spec["groups"]}
    chain = sum(services[s] for s in ("inventory", "seller", "notification", "invoice",
                                      "delivery"))
    assert chain == services["order-service-sync"] == 1_300
    orders = 120 + 2 * 30  # steady traffic plus the sale, on each side
    assert sync["count"] == asynchronous["count"] == invoice["count"] == orders
    # synchronous: never less than the sum of the five calls; under the sale's load the
    # queue in front of the blocked order service makes it many times that
    assert sync["min_ms"] >= chain
    assert sync["max_ms"] > 5 * chain
    # asynchronous: the acknowledgement (followers copying, every 20 ms here), whatever the load
    fetch = spec["cluster_config"]["replica.fetch.interval.ms"]
    assert asynchronous["max_ms"] <= fetch < chain
    # the services still did the work, in parallel, each at its own pace: the slowest fell
    # behind during the sale and caught up, and nobody waited for it
    assert invoice["max_ms"] > 5 * services["invoice"]
    for group in ("inventory", "seller", "notification", "invoice", "delivery"):
        assert summary.groups[group]["processed"] == orders
        assert summary.groups[group]["lag"] == 0


def test_youtube_upload_pipeline_fans_out_and_failures_end_in_dead_letter_topics():
    spec, _, events = run("youtube-upload")
    stages = {g["name"]: g for g in spec["groups"]}
    by_cause = defaultdict(list)
    for e in of(events, "record.produced"):
        if "cause" in e and not e["topic"].endswith("-dlt"):
            c = e["cause"]
            by_cause[(c["group"], c["topic"], c["partition"], c["offset"])].append(e)
    for name, stage in stages.items():
        (source,) = stage["topics"]
        (emit,) = stage["consumer"]["emits"]
        fanout = emit.get("fanout", 1)
        inputs = {(e["partition"], e["offset"]) for e in of(events, "record.produced",
                                                            topic=source)}
        processed = [(e["partition"], e["offset"])
                     for e in of(events, "record.processed", group=name)]
        dead = [(e["partition"], e["offset"])
                for e in of(events, "record.dead_lettered", group=name)]
        # every record reaching a stage ends exactly once: processed or dead-lettered
        assert sorted(processed + dead) == sorted(inputs), name
        for p, o in processed:
            out = by_cause[(name, source, p, o)]
            assert len(out) == fanout and {e["topic"] for e in out} == {emit["topic"]}, name
        for e in of(events, "record.dead_lettered", group=name):
            assert e["dead_letter_topic"] == f"{source}-dlt" and e["attempts"] == 3
            assert e["dead_letter_partition"] == e["partition"]
    # transcode turned each cleared video into three renditions
    assert len(of(events, "record.produced", topic="video-transcoded")) == \
        3 * len(of(events, "record.processed", group="transcode"))
    # the corrupt upload failed all three copyright checks and was parked
    (poison,) = of(events, "record.produced", topic="video-uploaded", key="video-13")
    tries = of(events, "record.failed", group="copyright-check", partition=poison["partition"],
               offset=poison["offset"])
    assert [e["attempt"] for e in tries] == [1, 2, 3]
    assert of(events, "record.dead_lettered", group="copyright-check", offset=poison["offset"],
              partition=poison["partition"])
    # random failures mostly recover on a retry: more retries than dead letters
    assert len(of(events, "record.retry_scheduled")) > 3 * len(of(events,
                                                                  "record.dead_lettered"))


def test_signup_two_partitions_keep_a_third_consumer_idle_until_one_leaves():
    _, _, events = run("signup")
    joined = {e["consumer"] for e in of(events, "group.member_joined", group="welcome-email")}
    assert len(joined) >= 3
    first = [e for e in of(events, "partition.assigned", group="welcome-email")
             if e["t_ms"] < 40_000]
    working = {e["consumer"] for e in first}
    assert len(working) == 2 and sum(len(e["partitions"]) for e in first) == 2
    (idle,) = {"welcome-email-1", "welcome-email-2", "welcome-email-3"} - working
    before = [e for e in of(events, "record.processed", group="welcome-email")
              if e["t_ms"] < 40_000]
    assert {e["consumer"] for e in before} == working
    assert before, "the group processed sign-ups before the leave"
    after = [e for e in of(events, "record.processed", group="welcome-email", consumer=idle)]
    assert after and min(e["t_ms"] for e in after) >= 40_000
    processed = {(e["partition"], e["offset"])
                 for e in of(events, "record.processed", group="welcome-email")}
    assert len(processed) == 80


def test_broker_failure_leader_moves_and_no_acknowledged_record_is_lost():
    _, cluster, events = run("broker-failure")
    elections = of(events, "partition.leader_elected", topic="payments", partition=0)
    assert elections[0]["leader"] == 1 and elections[0]["t_ms"] == 0
    stopped = of(events, "broker.stopped", broker=1)
    assert stopped and stopped[0]["t_ms"] == 20_000
    moved = [e for e in elections if e["t_ms"] > 20_000]
    assert moved and moved[0]["leader"] in (2, 3) and not moved[0]["unclean"]
    assert not of(events, "record.lost")
    acked = {(e["partition"], e["offset"]) for e in of(events, "record.acked", topic="payments")}
    processed = {(e["partition"], e["offset"])
                 for e in of(events, "record.processed", group="ledger")}
    assert len(acked) > 500 and acked <= processed
    assert cluster.snapshot()["brokers"][0]["up"]


def test_lost_write_acks_1_loses_an_acknowledged_record_and_says_so():
    _, _, events = run("lost-write")
    (like3,) = of(events, "record.produced", topic="likes", key="like-3")
    assert like3["t_ms"] == 10_000 and like3["acks"] == "1"
    assert of(events, "record.acked", topic="likes", partition=like3["partition"],
              offset=like3["offset"])
    lost = of(events, "record.lost", topic="likes")
    assert [(e["partition"], e["offset"], e["key"]) for e in lost] == [
        (like3["partition"], like3["offset"], "like-3")]
    # a clean election: the loss comes from acks=1, not from an unclean leader
    assert not [e for e in of(events, "partition.leader_elected") if e["unclean"]]
    (like4,) = of(events, "record.produced", topic="likes", key="like-4")
    assert like4["offset"] == like3["offset"] and like4["leader"] != 1


def test_unclean_election_loses_acknowledged_records_and_announces_them():
    _, _, events = run("unclean-election")
    unclean = [e for e in of(events, "partition.leader_elected", topic="audit") if e["unclean"]]
    assert unclean and unclean[0]["leader"] == 2 and unclean[0]["t_ms"] >= 100_000
    lost = of(events, "record.lost", topic="audit")
    assert lost
    acked = {e["offset"] for e in of(events, "record.acked", topic="audit")}
    produced = {e["offset"] for e in of(events, "record.produced", topic="audit")
                if e["t_ms"] < 60_000}
    # what broker 2 had copied when it crashed at 10 s
    copied = max(e["log_end_offset"] for e in of(events, "record.replicated", topic="audit",
                                                 broker=2) if e["t_ms"] <= 10_000)
    # exactly the acknowledged records broker 2 never copied were lost, each announced
    assert {e["offset"] for e in lost} == {o for o in produced if o >= copied}
    assert {e["offset"] for e in lost} <= acked
    assert all(e["reason"] for e in lost)


def test_poison_message_is_retried_then_dead_lettered_and_the_rest_flow():
    spec, _, events = run("poison-message")
    (poison,) = of(events, "record.produced", topic="invoices", key="order-13")
    where = {"partition": poison["partition"], "offset": poison["offset"]}
    failed = of(events, "record.failed", group="billing", **where)
    assert [e["attempt"] for e in failed] == [1, 2, 3]
    retries = of(events, "record.retry_scheduled", group="billing", **where)
    assert [e["delay_ms"] for e in retries] == [1_000, 2_000]
    assert [r["t_ms"] + r["delay_ms"] for r in retries] == [
        e["t_ms"] for e in of(events, "record.delivered", group="billing", **where)][1:]
    (dead,) = of(events, "record.dead_lettered", group="billing")
    assert (dead["partition"], dead["offset"], dead["attempts"], dead["reason"]) == (
        poison["partition"], poison["offset"], 3, "max_attempts")
    assert dead["dead_letter_topic"] == "invoices-dlt"
    (parked,) = of(events, "record.produced", topic="invoices-dlt")
    assert parked["key"] == "order-13" and parked["offset"] == dead["dead_letter_offset"]
    assert parked["headers"]["kafka_dlt-original-offset"] == str(poison["offset"])
    others = Counter((e["partition"], e["offset"])
                     for e in of(events, "record.processed", group="billing"))
    assert len(others) == 29 and set(others.values()) == {1}
    assert (poison["partition"], poison["offset"]) not in others


def test_timeout_24h_fires_exactly_a_day_after_delivery_in_well_under_a_second():
    started = time.perf_counter()
    spec, _, events = run("timeout-24h")
    wall_s = time.perf_counter() - started
    assert spec["duration_ms"] == 25 * 3_600_000
    assert wall_s < 1.0, f"24 virtual hours took {wall_s:.2f} s"
    timed_out = of(events, "record.timed_out")
    first = timed_out[0]
    assert first["kind"] == "processing"
    (delivered,) = of(events, "record.delivered", group=first["group"],
                      consumer=first["consumer"], topic=first["topic"],
                      partition=first["partition"], offset=first["offset"],
                      attempt=first["attempt"])
    assert first["t_ms"] - delivered["t_ms"] == 86_400_000
    (dead,) = of(events, "record.dead_lettered", group="renderer")
    # Dead-lettered once the dead-letter topic's followers acknowledge it (acks=all): at
    # their next fetch, within one replica.fetch.interval.ms.
    assert first["t_ms"] <= dead["t_ms"] <= first["t_ms"] + 500
    assert dead["dead_letter_topic"] == "render-jobs-dlt"
    # one consumer is one thread: nothing else it owns was processed while it hung
    waited = [e for e in of(events, "record.processed", group="renderer")
              if delivered["t_ms"] < e["t_ms"] < first["t_ms"]]
    assert waited == []
    assert len(of(events, "record.processed", group="renderer")) == 5


def _owners_at(events, group, t_ms):
    owner = {}
    for e in events:
        if e["t_ms"] > t_ms or e.get("group") != group:
            continue
        if e["type"] == "partition.assigned":
            for tp in e["partitions"]:
                owner[tuple(tp)] = e["consumer"]
        elif e["type"] == "partition.revoked":
            for tp in e["partitions"]:
                owner.pop(tuple(tp), None)
    return owner


def test_rebalance_eager_stops_every_partition_cooperative_only_those_that_move():
    _, _, events = run("rebalance")
    window = (30_000, 40_000)  # a consumer joins at 30 s; both groups settle by 40 s
    for group, eager in (("eager", True), ("cooperative", False)):
        before = _owners_at(events, group, window[0] - 1)
        after = _owners_at(events, group, window[1])
        assert len(before) == len(after) == 6
        moved = {tp for tp in before if before[tp] != after[tp]}
        revoked = [tuple(tp) for e in of(events, "partition.revoked", group=group)
                   if window[0] <= e["t_ms"] <= window[1] for tp in e["partitions"]]
        assert moved and len(revoked) == len(set(revoked))
        if eager:
            # every member gave up everything, including what it got straight back
            assert set(revoked) == set(before) and moved < set(before)
        else:
            assert set(revoked) == moved
    total = {g: sum(len(e["partitions"]) for e in of(events, "partition.revoked", group=g))
             for g in ("eager", "cooperative")}
    assert total["eager"] > total["cooperative"]
