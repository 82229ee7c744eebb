"""What the delivery policy costs.

1. The timeout-24h story: one hanging consumer holds a record for 24 virtual hours. Printed:
   the clock actions the day cost and the wall time of `advance(86_400_000)` (the design asks
   that idle virtual time cost nothing: the timeout is one action).
2. Records a second through the record-by-record path (zero processing time, failure_rate 0.1,
   blocking retries without back-off, dead letters after 3 attempts), against the zero-time
   fast path on the same records, so the price of "may fail" is visible.

Run: .venv/bin/python bench/delivery.py [--records N]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from broker_core import Cluster  # noqa: E402


def hanging_day() -> tuple[int, float]:
    cluster = Cluster(seed=1, brokers=3)
    cluster.apply({"type": "topic.create", "name": "video-uploaded", "partitions": 1})
    cluster.apply({"type": "consumer.add", "group": "transcoder", "topics": ["video-uploaded"],
                   "hangs": True})
    cluster.advance(5_000)
    cluster.apply({"type": "produce", "topic": "video-uploaded", "key": "video-1", "value": "x"})
    before = cluster.clock.actions_run
    start = time.perf_counter()
    events = cluster.advance(86_400_000)
    elapsed = time.perf_counter() - start
    assert [e["kind"] for e in events if e["type"] == "record.timed_out"] == ["processing"]
    return cluster.clock.actions_run - before, elapsed


def throughput(records: int, failing: bool) -> float:
    cluster = Cluster(seed=1, brokers=3)
    cluster.apply({"type": "topic.create", "name": "orders", "partitions": 8})
    cluster.apply({"type": "group.configure", "group": "billing", "retry_backoff_ms": 0})
    consumer = {"type": "consumer.add", "group": "billing", "topics": ["orders"]}
    if failing:
        consumer["failure_rate"] = 0.1
    for _ in range(4):
        cluster.apply(consumer)
    cluster.advance(5_000)
    start = time.perf_counter()
    cluster.apply({"type": "producer.add", "id": "shop", "topic": "orders",
                   "rate_per_s": 100_000})
    cluster.advance(records // 100)  # 100 records a millisecond
    elapsed = time.perf_counter() - start
    return records / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    actions, wall = hanging_day()
    print(f"timeout-24h: 24 virtual hours with a hanging consumer cost {actions} clock "
          f"action(s), {wall * 1000:.3f} ms of wall time")
    fast = statistics.median(throughput(args.records, False) for _ in range(args.runs))
    slow = statistics.median(throughput(args.records, True) for _ in range(args.runs))
    print(f"produce -> 4 consumers, zero-time fast path:            {fast:>10,.0f} records/s")
    print(f"produce -> 4 consumers, failure_rate 0.1, record by record: {slow:>10,.0f} records/s"
          f"  ({slow / fast:.2f} of the fast path)")
    print(f"reproduce: .venv/bin/python bench/delivery.py --records {args.records} "
          f"--runs {args.runs}")


if __name__ == "__main__":
    main()
