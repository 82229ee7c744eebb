"""Pipelines (consumers that produce, `emits`) and invariant 4 under seeded chaos.

The YouTube upload story from the lecture: upload -> copyright check -> transcode into several
resolutions (fan-out) -> terms check -> captions, where stages fail sometimes, retry and end in
dead-letter topics. Then seeded runs that mix failures, poison keys, hanging consumers,
timeouts, retry topics and rebalances, checked against DESIGN.md invariants 1, 2, 4 and 5.
"""

import random

import pytest

from broker_core import Cluster
from broker_core.checkers import DeliveryChecker, check_ownership, digest, replay

STAGES = (
    # group, reads, emits
    ("copyright", "video-uploaded", [{"topic": "copyright-checked"}]),
    ("transcoder", "copyright-checked",
     [{"topic": "transcode-jobs", "fanout": 3, "key": "{key}-{i}",
       "value": "{value} at resolution {i}"}]),
    ("terms", "transcode-jobs", [{"topic": "terms-checked", "key": "same"}]),
    ("captions", "terms-checked", []),
)


def youtube(seed=5, failure_rate=0.0):
    cluster = Cluster(seed=seed, brokers=3)
    checker = DeliveryChecker()
    events = []

    def run(command=None, ms=None):
        out = cluster.apply(command) if command else cluster.advance(ms)
        checker.feed(out)
        events.extend(out)
        return out

    for name in ("video-uploaded", "copyright-checked", "transcode-jobs", "terms-checked"):
        run({"type": "topic.create", "name": name, "partitions": 2, "replication_factor": 2})
    for group, reads, emits in STAGES:
        run({"type": "consumer.add", "group": group, "id": f"{group}-1", "topics": [reads],
             "processing_ms": {"min": 50, "max": 400}, "emits": emits,
             "failure_rate": failure_rate})
    run(ms=5_000)
    return cluster, checker, events, run


def test_one_upload_fans_out_to_three_transcode_jobs_each_naming_its_cause():
    cluster, checker, events, run = youtube()
    run({"type": "produce", "topic": "video-uploaded", "key": "video-42", "value": "cat.mp4"})
    run(ms=30_000)
    produced = {(e["topic"], e["partition"], e["offset"]): e for e in events
                if e["type"] == "record.produced"}
    jobs = [e for e in produced.values() if e["topic"] == "transcode-jobs"]
    assert sorted((e["key"], e["value"]) for e in jobs) == [
        ("video-42-1", "cat.mp4 at resolution 1"), ("video-42-2", "cat.mp4 at resolution 2"),
        ("video-42-3", "cat.mp4 at resolution 3")]
    checked = [e for e in produced.values() if e["topic"] == "copyright-checked"][0]
    assert checked["key"] == "video-42" and checked["value"] == "cat.mp4"
    for job in jobs:
        assert job["cause"] == {"topic": "copyright-checked", "partition": checked["partition"],
                                "offset": checked["offset"], "group": "transcoder"}
    # Every caption traces back through the causes to the one upload.
    captions = [e for e in events if e["type"] == "record.processed" and e["group"] == "captions"]
    assert len(captions) == 3
    for done in captions:
        record = produced[(done["topic"], done["partition"], done["offset"])]
        chain = []
        while "cause" in record:
            cause = record["cause"]
            chain.append(cause["group"])
            record = produced[(cause["topic"], cause["partition"], cause["offset"])]
        assert chain == ["terms", "transcoder", "copyright"]
        assert record["topic"] == "video-uploaded"
    # A record is produced before its source is reported processed.
    source = [e for e in events if e["type"] == "record.processed" and e["group"] == "transcoder"]
    assert all(job["seq"] < source[0]["seq"] for job in jobs)
    assert checker.unresolved(cluster.snapshot()) == []


def test_failing_stages_retry_and_dead_letter_yet_every_record_ends_somewhere():
    cluster, checker, events, run = youtube(seed=11, failure_rate=0.4)
    run({"type": "producer.add", "id": "uploads", "topic": "video-uploaded", "rate_per_s": 2,
         "keys": {"kind": "sequence", "prefix": "video-"}, "value": "upload {n}"})
    run(ms=20_000)
    run({"type": "producer.remove", "id": "uploads"})
    run(ms=600_000)
    dead = [e for e in events if e["type"] == "record.dead_lettered"]
    assert dead and {e["dead_letter_topic"] for e in dead} <= {
        "video-uploaded-dlt", "copyright-checked-dlt", "transcode-jobs-dlt", "terms-checked-dlt"}
    assert all(e["attempts"] == 3 for e in dead)
    assert checker.unresolved(cluster.snapshot()) == []


def test_a_send_to_a_missing_topic_fails_the_attempt_like_a_listener_exception():
    cluster = Cluster(seed=1, brokers=1)
    checker = DeliveryChecker()
    checker.feed(cluster.apply({"type": "topic.create", "name": "in"}))
    checker.feed(cluster.apply({"type": "consumer.add", "group": "g", "topics": ["in"],
                                "processing_ms": 1,
                                "emits": [{"topic": "missing", "fanout": 2, "key": None}]}))
    checker.feed(cluster.advance(5_000))
    events = cluster.apply({"type": "produce", "topic": "in", "key": "k", "value": "v"})
    events += cluster.advance(10_000)
    checker.feed(events)
    failed = [e for e in events if e["type"] == "produce.failed"]
    # One send per attempt: the first failure ends the attempt before the second send.
    assert [(e["topic"], e["error"], e["key"]) for e in failed] == [
        ("missing", "UNKNOWN_TOPIC_OR_PARTITION", None)] * 3
    assert failed[0]["cause"] == {"topic": "in", "partition": 0, "offset": 0, "group": "g"}
    attempts = [(e["attempt"], e["error"]) for e in events if e["type"] == "record.failed"]
    assert attempts == [(n, "sending to 'missing' failed: UNKNOWN_TOPIC_OR_PARTITION")
                        for n in (1, 2, 3)]
    assert [e["dead_letter_topic"] for e in events if e["type"] == "record.dead_lettered"] == [
        "in-dlt"]
    assert not [e for e in events if e["type"] == "record.processed"]
    assert checker.unresolved(cluster.snapshot()) == []


def test_a_failed_send_is_retried_whole_and_duplicates_what_already_went_out():
    cluster = Cluster(seed=1, brokers=1)
    cluster.apply({"type": "topic.create", "name": "in"})
    cluster.apply({"type": "topic.create", "name": "ok"})
    cluster.apply({"type": "consumer.add", "group": "g", "topics": ["in"], "processing_ms": 1,
                   "emits": [{"topic": "ok"}, {"topic": "later"}]})
    cluster.advance(5_000)
    events = cluster.apply({"type": "produce", "topic": "in", "key": "k", "value": "v"})
    events += cluster.advance(500)
    events += cluster.apply({"type": "topic.create", "name": "later"})
    events += cluster.advance(5_000)
    sent = [(e["topic"], e["offset"]) for e in events
            if e["type"] == "record.produced" and e["topic"] != "in"]
    assert sent == [("ok", 0), ("ok", 1), ("later", 0)]  # attempt 2 at +1 s sends both
    assert [e["attempt"] for e in events if e["type"] == "record.processed"] == [2]


def test_emitted_keys_same_null_and_templates():
    cluster = Cluster(seed=1, brokers=1)
    for name in ("in", "a", "b", "c"):
        cluster.apply({"type": "topic.create", "name": name, "partitions": 4})
    emits = [{"topic": "a"}, {"topic": "b", "key": None, "value": "{{literal}} {value}"},
             {"topic": "c", "key": "{value}:{key}", "fanout": 2}]
    cluster.apply({"type": "consumer.add", "group": "g", "topics": ["in"], "processing_ms": 1,
                   "emits": emits})
    cluster.advance(5_000)
    events = cluster.apply({"type": "produce", "topic": "in", "key": "order-7", "value": "x"})
    events += cluster.advance(1)
    out = [(e["topic"], e["key"], e["value"], e["why"]["method"]) for e in events
           if e["type"] == "record.produced" and e["topic"] != "in"]
    assert out == [("a", "order-7", "x", "murmur2"), ("b", None, "{{literal}} x", "sticky"),
                   ("c", "x:order-7", "x", "murmur2"), ("c", "x:order-7", "x", "murmur2")]


# -- seeded chaos: invariant 4 --------------------------------------------------------------------

def chaos_schedule(seed: int) -> tuple[list, int]:
    """Commands at virtual times, drawn from the seed: failing, slow, hanging and poisoned
    consumers in two groups, with joins, leaves, crashes and hangs while records flow."""
    rng = random.Random(f"chaos/{seed}")
    out = [(0, {"type": "topic.create", "name": "orders", "partitions": rng.randint(1, 4),
                "replication_factor": rng.randint(1, 3)})]
    for group in ("billing", "audit"):
        config = {"type": "group.configure", "group": group,
                  "retry_mode": rng.choice(["blocking", "topics"]),
                  "max_attempts": rng.randint(1, 4),
                  "retry_backoff_ms": rng.choice([0, 200, 1_000]),
                  "retry_backoff_max_ms": rng.choice([500, 5_000]),
                  "processing_timeout_ms": rng.choice([1_500, 4_000]),
                  "assignor": rng.choice(["range", "roundrobin", "cooperative-sticky"]),
                  "session_timeout_ms": 6_000}
        if rng.random() < 0.3:
            config["message_timeout_ms"] = rng.choice([3_000, 20_000])
        out.append((0, config))
    out.append((0, {"type": "producer.add", "id": "shop", "topic": "orders",
                    "rate_per_s": rng.choice([2, 5, 10]),
                    "keys": {"kind": "uniform", "prefix": "k", "count": 12}}))
    members: list[tuple[str, str]] = []
    t = 0
    for i in range(14):
        t += rng.randint(0, 4_000)
        roll = rng.random()
        if roll < 0.45 or not members:
            group = rng.choice(["billing", "audit"])
            command = {"type": "consumer.add", "group": group, "id": f"c{i}",
                       "topics": ["orders"],
                       "processing_ms": rng.choice([0, 20, {"min": 0, "max": 2_000}]),
                       "failure_rate": rng.choice([0, 0.1, 0.5]),
                       "commit": rng.choice(["after", "auto"])}
            if rng.random() < 0.3:
                command["fail_keys"] = [f"k{rng.randint(1, 12)}"]
            if rng.random() < 0.15:
                command["hangs"] = True
            members.append((group, f"c{i}"))
            out.append((t, command))
        elif roll < 0.6:
            group, mid = rng.choice(members)
            out.append((t, {"type": "consumer.hang", "group": group, "id": mid,
                            "hangs": rng.random() < 0.6}))
        else:
            group, mid = members.pop(rng.randrange(len(members)))
            out.append((t, {"type": rng.choice(["consumer.remove", "consumer.crash"]),
                            "group": group, "id": mid}))
        if i == 6 and rng.random() < 0.5:
            # A broker goes away for a while: partitions move or go offline, forwards and
            # dead letters may fail and be tried again.
            broker = rng.randint(1, 3)
            out.append((t, {"type": "broker.stop", "broker": broker,
                            "mode": rng.choice(["clean", "crash"])}))
            out.append((t + rng.randint(5_000, 40_000), {"type": "broker.start",
                                                         "broker": broker}))
    t = max(t, max(at for at, _ in out)) + 1_000
    out.append((t, {"type": "producer.remove", "id": "shop"}))
    # Healthy consumers at the end, so both groups have someone live to finish the work.
    for group in ("billing", "audit"):
        out.append((t, {"type": "consumer.add", "group": group, "id": f"{group}-final",
                        "topics": ["orders"]}))
    return out, t


def run_chaos(seed: int):
    cluster = Cluster(seed=seed, brokers=3)
    checker = DeliveryChecker()
    events: list[dict] = []
    schedule, end = chaos_schedule(seed)
    for at_ms, command in sorted(schedule, key=lambda entry: entry[0]):
        out = cluster.advance_to(at_ms)
        checker.feed(out)
        events += out
        out = cluster.apply(command)
        checker.feed(out)
        events += out
    # Long enough for sessions to expire, rebalances to finish and every record's attempts,
    # back-offs and timeouts to run out, even behind a hanging consumer that gives each of
    # hundreds of records three timed-out attempts.
    out = cluster.advance(12 * 3_600_000)
    checker.feed(out)
    events += out
    return cluster, checker, events


@pytest.mark.parametrize("seed", range(100))
def test_every_record_is_processed_or_dead_lettered_under_seeded_chaos(seed):
    try:
        cluster, checker, events = run_chaos(seed)
    except AssertionError as error:
        raise AssertionError(f"seed {seed}: {error}") from error
    snapshot = cluster.snapshot()
    assert checker.unresolved(snapshot) == [], f"seed {seed}"
    assert check_ownership(snapshot, require_live=True) == [], f"seed {seed}"
    assert sum(e["type"] == "record.produced" for e in events) > 20, f"seed {seed}: too quiet"
    if seed % 5 == 0:
        _, replayed = replay(seed, 3, cluster.command_log, until_ms=cluster.now_ms)
        assert digest(replayed) == digest(events), f"seed {seed}: replay differs"


def test_the_chaos_runs_exercise_what_they_claim():
    kinds = set()
    for seed in range(10):
        _, _, events = run_chaos(seed)
        kinds |= {e["type"] for e in events}
        kinds |= {f"timed_out:{e['kind']}" for e in events if e["type"] == "record.timed_out"}
        kinds |= {"retry_topic" for e in events
                  if e["type"] == "record.retry_scheduled" and e["retry_topic"]}
    for kind in ("record.failed", "record.retry_scheduled", "record.dead_lettered",
                 "timed_out:processing", "retry_topic", "consumer.hung",
                 "group.member_expired", "partition.revoked", "broker.stopped"):
        assert kind in kinds, kind


def test_an_output_cut_away_before_its_acknowledgement_is_sent_again_not_lost():
    # Spring waits for a send's result before it commits the source record; so does the model.
    c = Cluster(seed=1, brokers=2)
    events = c.apply({"type": "topic.create", "name": "in"})
    events += c.apply({"type": "topic.create", "name": "out", "replication_factor": 2})
    events += c.advance(1_000)
    part = c.topics["out"].partitions[0]
    leader = part.leader
    follower = next(b for b in part.replicas if b != leader)
    events += c.apply({"type": "broker.configure", "broker": follower,
                       "replica_fetch_delay_ms": 60_000})
    events += c.apply({"type": "consumer.add", "group": "g", "topics": ["in"],
                       "processing_ms": 10, "emits": [{"topic": "out"}]})
    events += c.advance(5_000)
    events += c.apply({"type": "produce", "topic": "in", "value": "order-1"})
    events += c.advance(20)
    assert c.groups["g"].committed.get(c.topics["in"].partitions[0]) is None  # waits for acks
    events += c.apply({"type": "broker.stop", "broker": leader, "mode": "crash"})
    events += c.advance(30_000)
    events += c.apply({"type": "broker.start", "broker": leader})
    events += c.advance(120_000)
    truncated = [e for e in events if e["type"] == "record.truncated"]
    assert [(e["value"], e["will_retry"]) for e in truncated] == [("order-1", False)]
    log = c.topics["out"].partitions[0].leader_log
    assert log.values[log.start_offset - log.base:] == ["order-1"]
    processed = [e for e in events if e["type"] == "record.processed" and e["topic"] == "in"]
    acked = [e for e in events if e["type"] == "record.acked" and e["topic"] == "out"]
    assert len(processed) == 1 and processed[0]["seq"] > acked[-1]["seq"]
    failed = [e for e in events if e["type"] == "record.failed"]
    assert failed and "not acknowledged" in failed[0]["error"]
