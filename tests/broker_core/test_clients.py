"""Real clients' commands in the model: produce.records (all or nothing, idempotent sequences),
producer.init_id, auto-creation, and the read API the wire Fetch and ListOffsets use."""

import pytest

from broker_core import Cluster, CommandError, reads
from broker_core.checkers import digest


def cluster(**config) -> Cluster:
    c = Cluster(seed=3, brokers=3, config={"replica.fetch.interval.ms": 5, **config})
    c.advance(0)
    return c


def batch(topic="t", partition=0, acks="all", records=None, **extra) -> dict:
    return {"type": "produce.records", "topic": topic, "partition": partition, "acks": acks,
            "client": "app@127.0.0.1:5000",
            "records": records or [["k1", "v1", None], [None, "v2", {"h": "x"}]], **extra}


def types(events) -> list[str]:
    return [e["type"] for e in events]


def test_a_batch_appends_in_order_and_acks_all_when_the_high_watermark_passes():
    c = cluster()
    c.apply({"type": "topic.create", "name": "t", "partitions": 2, "replication_factor": 3})
    events = c.apply(batch(partition=1))
    produced = [e for e in events if e["type"] == "record.produced"]
    assert [(e["partition"], e["offset"], e["key"]) for e in produced] == [(1, 0, "k1"),
                                                                         (1, 1, None)]
    assert all(e["producer"] == "app@127.0.0.1:5000" for e in produced)
    # The client chose the partition; for a key, whether that was murmur2 (Java's default).
    from broker_core.partitioner import key_hash
    h = key_hash("k1")
    assert [e["why"] for e in produced] == [
        {"method": "client", "hash": h, "partitions": 2, "murmur2": (h & 0x7FFFFFFF) % 2 == 1},
        {"method": "client"}]
    assert "record.acked" not in types(events)  # followers have not fetched yet
    later = c.advance(50)
    acked = [e["offset"] for e in later if e["type"] == "record.acked"]
    assert acked == [0, 1]
    read = reads.records(c, "t", 1, 0, 10_000)
    assert [(o, k, v, h) for o, k, v, h, _ in read["records"]] == [
        (0, "k1", "v1", None), (1, None, "v2", {"h": "x"})]
    assert read["high_watermark"] == 2 and read["error"] is None


def test_a_batch_fails_whole_with_kafkas_error_and_is_never_retried_by_the_model():
    c = cluster()
    c.apply({"type": "topic.create", "name": "t", "partitions": 1, "replication_factor": 3,
             "config": {"min.insync.replicas": 3, "max.message.bytes": 10}})
    follower = c.topics["t"].partitions[0].follower_ids()[0]
    c.apply({"type": "broker.stop", "broker": follower})
    events = c.apply(batch())
    assert types(events) == ["produce.failed"]
    assert events[0]["error"] == "NOT_ENOUGH_REPLICAS" and events[0]["count"] == 2
    assert c.apply(batch(acks="1", records=[["k", "x" * 20, None]]))[0]["error"] == \
        "MESSAGE_TOO_LARGE"
    assert not any(e["type"] == "record.produced" for e in c.advance(5_000))
    assert c.topics["t"].partitions[0].leader_log.end_offset == 0


def test_idempotent_batches_are_deduplicated_and_gaps_refused():
    c = cluster()
    c.apply({"type": "topic.create", "name": "t", "partitions": 1, "replication_factor": 1})
    pid = c.apply({"type": "producer.init_id", "client": "a"})[0]
    assert (pid["producer_id"], pid["producer_epoch"]) == (0, 0)
    ids = {"producer_id": 0, "producer_epoch": 0}
    c.apply(batch(base_sequence=0, **ids))
    again = c.apply(batch(base_sequence=0, **ids))
    assert types(again) == ["produce.deduplicated"] and again[0]["base_offset"] == 0
    gap = c.apply(batch(base_sequence=5, **ids))
    assert gap[0]["error"] == "OUT_OF_ORDER_SEQUENCE_NUMBER"
    nxt = c.apply(batch(base_sequence=2, **ids))
    assert [e["offset"] for e in nxt if e["type"] == "record.produced"] == [2, 3]
    old = c.apply(batch(base_sequence=0, producer_id=0, producer_epoch=-1))
    assert old[0]["error"] == "INVALID_PRODUCER_EPOCH"
    bumped = c.apply({"type": "producer.init_id", "client": "a", **ids})[0]
    assert (bumped["producer_id"], bumped["producer_epoch"]) == (0, 1)
    with pytest.raises(CommandError) as e:
        c.apply({"type": "producer.init_id", "producer_id": 7, "producer_epoch": 0})
    assert e.value.field == "producer_id"


def test_bad_batches_are_refused_naming_the_field_and_change_nothing():
    c = cluster()
    c.apply({"type": "topic.create", "name": "t", "partitions": 1, "replication_factor": 1})
    seq = c.seq
    for bad, field in [({"records": []}, "records"), ({"records": [["k"]]}, "records[0]"),
                       ({"records": [[1, "v", None]]}, "records[0].key"),
                       ({"partition": 3}, "partition"), ({"acks": "2"}, "acks"),
                       ({"client": ""}, "client"), ({"extra": 1}, "extra")]:
        with pytest.raises(CommandError) as e:
            c.apply({**batch(), **bad})
        assert e.value.field == field
    assert c.seq == seq and c.command_log[-1]["command"]["type"] == "topic.create"


def test_auto_creation_takes_the_brokers_defaults_and_can_be_off():
    c = cluster(**{"num.partitions": 4, "default.replication.factor": 2})
    events = c.apply({"type": "topic.create", "name": "auto", "auto": True, "client": "x"})
    created = next(e for e in events if e["type"] == "topic.created")
    assert (created["partitions"], created["replication_factor"], created["auto"]) == (4, 2, True)
    off = cluster(**{"auto.create.topics.enable": "false"})
    with pytest.raises(CommandError) as e:
        off.apply({"type": "topic.create", "name": "auto", "auto": True})
    assert e.value.field == "auto"
    with pytest.raises(CommandError) as e:
        Cluster(config={"auto.create.topics.enable": 3})
    assert e.value.field == "config.auto.create.topics.enable"


def test_reads_and_offsets_by_time_stay_below_the_high_watermark():
    c = cluster()
    c.apply({"type": "topic.create", "name": "t", "partitions": 1, "replication_factor": 3})
    c.apply(batch(records=[["a", "1", None]]))
    c.advance(100)
    c.apply(batch(records=[["b", "2", None], ["c", "3", None]]))
    # Written but not replicated yet: invisible to consumers.
    assert [r[0] for r in reads.records(c, "t", 0, 0, 10**6)["records"]] == [0]
    assert reads.offset_for(c, "t", 0, -1)[1] == 1
    c.advance(50)
    assert [r[0] for r in reads.records(c, "t", 0, 1, 10**6)["records"]] == [1, 2]
    assert [r[0] for r in reads.records(c, "t", 0, 0, 1)["records"]] == [0]  # at least one
    assert reads.records(c, "t", 0, 9, 100)["error"] == "OFFSET_OUT_OF_RANGE"
    assert reads.records(c, "t", 5, 0, 100)["error"] == "UNKNOWN_TOPIC_OR_PARTITION"
    assert reads.offset_for(c, "t", 0, -2)[1] == 0
    assert reads.offset_for(c, "t", 0, 50)[1:3] == (1, 100)
    assert reads.offset_for(c, "t", 0, 10**9)[1] == -1


def test_real_clients_commands_replay_to_identical_events():
    def run() -> str:
        c = cluster()
        out = c.apply({"type": "topic.create", "name": "t", "auto": True, "client": "x"})
        out += c.apply({"type": "producer.init_id", "client": "p"})
        for i in range(20):
            out += c.apply(batch(records=[[f"k{i}", "v", None]], producer_id=0,
                                 producer_epoch=0, base_sequence=i))
            out += c.advance(7)
        out += c.apply({"type": "topic.delete", "name": "t", "client": "x"})
        return digest(out)

    assert run() == run()


def _client_batches(c: Cluster) -> list[dict]:
    """Batches of every shape a client sends (keys or none, headers, its own create times,
    bytes kept as base64, acks 0, 1 and all), to a lone leader and to three replicas."""
    out = c.apply({"type": "topic.create", "name": "one", "partitions": 2,
                   "replication_factor": 1})
    out += c.apply({"type": "topic.create", "name": "three", "partitions": 3,
                    "replication_factor": 3})
    for i in range(12):
        topic, partition = ("one", i % 2) if i % 3 else ("three", i % 3)
        records = [[f"k{i}-{j}" if j % 3 else None, f"v{j}" * (j + 1),
                    {"h": str(j)} if j % 4 == 1 else None, 1_700_000_000_000 + j]
                   for j in range(10)]
        if i == 5:
            records[2][1] = "\x00b64:AAEC"  # three bytes that are not text
            records[3][1] = "é" * 3
        out += c.apply(batch(topic=topic, partition=partition,
                             acks=("0", "1", "all")[i % 3], records=records))
        out += c.advance(3)
    return out


def test_a_folding_sink_counts_a_client_batch_as_its_events_would():
    """A client's batch is appended whole and a folding sink counts it at once: the counts,
    offsets, seqs and watermarks it gathers are those of the per-record events a run that
    builds every dict makes, and both runs leave the same logs."""
    from broker_core.events import BULK, Folding
    from tests.broker_core.aggregates import by_key, expected_aggregates

    whole_cluster = cluster()
    whole = _client_batches(whole_cluster)
    folded_cluster = cluster()
    folding = Folding([])
    folded_cluster.use_sink(folding)
    structural = _client_batches(folded_cluster)
    assert [e for e in whole if e["type"] not in BULK] == structural
    expected = expected_aggregates(whole)
    got = by_key(folding.take())
    assert got == expected
    assert {k[0] for k in got} >= {"record.produced", "record.acked", "record.replicated"}
    assert folded_cluster.seq == whole_cluster.seq
    for name in ("one", "three"):
        for p in range(len(whole_cluster.topics[name].partitions)):
            assert reads.records(folded_cluster, name, p, 0, 10**6) == \
                reads.records(whole_cluster, name, p, 0, 10**6)


def test_a_client_batch_keeps_each_records_headers_create_time_and_size():
    c = cluster()
    _client_batches(c)
    c.advance(1_000)
    log = c.topics["one"].partitions[1].leader_log
    # ("one", 1) has batches 1, 5, 7 and 11: batch 5's records are offsets 10 to 19.
    assert log.values[12] == "\x00b64:AAEC" and log.sizes[12] == len("k5-2") + 3
    assert log.sizes[13] == len("é".encode()) * 3
    assert log.sizes[14] == len("k5-4") + len("v4" * 5)
    assert [log.create_time_at(o) for o in (10, 19)] == [1_700_000_000_000,
                                                         1_700_000_000_009]
    assert log.headers[11] == {"h": "1"} and 12 not in log.headers
    assert log.size_bytes == sum(log.sizes)
    assert log.end_offset == 40
