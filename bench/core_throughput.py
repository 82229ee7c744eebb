"""How fast the broker model runs, and how much memory a retained record costs.

Throughput: records a second through produce -> one consumer group -> commit, on a topic of
8 partitions with replication factor 1, 100-byte values and keys order-1, order-2, ...; the
group has 4 consumers processing in zero virtual time and committing after each record. Events
are collected (as a room collects them) but not serialised. Each figure is the median of 5
runs; beside it, in the same run, a bare-Python reference loop that only builds the same five
event dicts per record and appends them to a list, so the ratio says how much the model costs
over the least any implementation of this event contract could do on this machine.

Both are also run with Python's cyclic garbage collector paused for the timed part, as a
diagnosis: millions of short-lived event dicts make CPython's collector a large share of the
cost, which a host can tune (gc.freeze, thresholds) without touching the model.

Replicated: the same run with replication factor 3 and acks=all, so every record also waits
for both followers' fetches before the high watermark passes it (goal: 80,000 records/s).

Memory: bytes a retained record costs (1,000,000 records, distinct 100-byte values, keyed and
not), measured with tracemalloc as the growth of everything the cluster holds.

Run: .venv/bin/python bench/core_throughput.py [--records N] [--runs 5]
"""

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from broker_core import Cluster  # noqa: E402

TOPIC = "bench"


def build(records: int, rf: int = 1, acks: str = "all") -> Cluster:
    cluster = Cluster(seed=1, brokers=3)
    cluster.apply({"type": "topic.create", "name": TOPIC, "partitions": 8,
                   "replication_factor": rf})
    for _ in range(4):
        cluster.apply({"type": "consumer.add", "group": "g", "topics": [TOPIC]})
    cluster.advance(20_000)  # past the initial rebalance delay: the group is Stable
    assert cluster.snapshot()["groups"]["g"]["state"] == "Stable"
    return cluster


def run_model(records: int, rf: int = 1, acks: str = "all") -> tuple[float, int]:
    cluster = build(records, rf, acks)
    rate = 100_000
    cluster.apply({"type": "producer.add", "id": "p", "topic": TOPIC, "rate_per_s": rate,
                   "keys": {"kind": "sequence", "prefix": "order-"}, "acks": acks,
                   "value": "{n}", "value_bytes": 100})
    committed = cluster.groups["g"].committed
    collected = 0
    processed = 0
    gc.collect()
    start = time.perf_counter()
    while processed < records:
        collected += len(cluster.advance(100))  # a room takes its events in slices like this
        if cluster.producers and cluster.producers["p"].sent >= records:
            cluster.apply({"type": "producer.remove", "id": "p"})
        processed = sum(committed.values())
    elapsed = time.perf_counter() - start
    return processed / elapsed, collected


def run_reference(records: int) -> float:
    """The floor: build the five events per record and keep them, nothing else."""
    out = []
    seq = 0
    gc.collect()
    start = time.perf_counter()
    for i in range(records):
        key = f"order-{i}"
        value = str(i).ljust(100, ".")
        partition = i % 8
        seq += 5
        out.append({"seq": seq, "t_ms": i, "type": "record.produced", "topic": TOPIC,
                    "partition": partition, "offset": i, "key": key, "value": value,
                    "why": {"method": "murmur2", "hash": i, "partitions": 8}})
        out.append({"seq": seq + 1, "t_ms": i, "type": "record.acked", "topic": TOPIC,
                    "partition": partition, "offset": i})
        out.append({"seq": seq + 2, "t_ms": i, "type": "record.delivered", "group": "g",
                    "topic": TOPIC, "partition": partition, "offset": i})
        out.append({"seq": seq + 3, "t_ms": i, "type": "record.processed", "group": "g",
                    "topic": TOPIC, "partition": partition, "offset": i})
        out.append({"seq": seq + 4, "t_ms": i, "type": "offset.committed", "group": "g",
                    "topic": TOPIC, "partition": partition, "offset": i + 1})
        if len(out) > 100_000:
            out.clear()
    return records / (time.perf_counter() - start)


def memory_per_record(records: int, keyed: bool) -> float:
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    cluster = Cluster(seed=1, brokers=1)
    cluster.apply({"type": "topic.create", "name": TOPIC, "partitions": 8,
                   "config": {"retention.ms": -1}})
    keys = {"kind": "sequence", "prefix": "order-"} if keyed else {"kind": "null"}
    cluster.apply({"type": "producer.add", "id": "p", "topic": TOPIC, "rate_per_s": 100_000,
                   "keys": keys, "value": "{n}", "value_bytes": 100})
    while cluster.producers["p"].sent < records:
        cluster.advance(min(1_000, max(1, (records - cluster.producers["p"].sent) // 100)))
    cluster.apply({"type": "producer.remove", "id": "p"})
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    retained = sum(len(p.leader_log) for p in cluster.topics[TOPIC].partitions)
    tracemalloc.stop()
    return used / retained


def timed(fn, *args, gc_paused: bool):
    if gc_paused:
        gc.collect()
        gc.disable()
    try:
        return fn(*args)
    finally:
        gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--memory-records", type=int, default=1_000_000)
    args = parser.parse_args()

    print(f"produce -> group -> commit, 8 partitions, RF 1, 100-byte values, keys order-N, "
          f"{args.records:,} records, median of {args.runs}:")
    for paused in (False, True):
        model, reference = [], []
        for _ in range(args.runs):  # interleaved, so both see the same machine
            reference.append(timed(run_reference, args.records, gc_paused=paused))
            model.append(timed(lambda n: run_model(n)[0], args.records, gc_paused=paused))
        m, r = statistics.median(model), statistics.median(reference)
        label = "gc paused (diagnosis)" if paused else "default gc"
        print(f"  [{label}]")
        print(f"    model:     {m:>10,.0f} records/s   (runs: "
              f"{', '.join(f'{x:,.0f}' for x in model)})")
        print(f"    reference: {r:>10,.0f} records/s   (bare loop building the same 5 events)")
        print(f"    ratio:     {m / r:.2f} of the reference"
              + ("" if paused else "   goal: >= 250,000 records/s"))
    print(f"the same with replication factor 3 and acks=all (followers fetch every 500 ms, the "
          f"high watermark and the acks follow), median of {args.runs}:")
    replicated, reference = [], []
    for _ in range(args.runs):
        reference.append(run_reference(args.records))
        replicated.append(run_model(args.records, rf=3, acks="all")[0])
    m, r = statistics.median(replicated), statistics.median(reference)
    print(f"    model:     {m:>10,.0f} records/s   (runs: "
          f"{', '.join(f'{x:,.0f}' for x in replicated)})   goal: >= 80,000 records/s")
    print(f"    ratio:     {m / r:.2f} of the reference run beside it ({r:,.0f} records/s)")
    for keyed in (True, False):
        per = memory_per_record(args.memory_records, keyed)
        print(f"memory per retained record ({args.memory_records:,} records, 100-byte values, "
              f"{'keys order-N' if keyed else 'null keys'}): {per:,.0f} bytes   "
              f"goal: <= 400")
    print(f"reproduce: .venv/bin/python bench/core_throughput.py --records {args.records} "
          f"--runs {args.runs}")


if __name__ == "__main__":
    main()
