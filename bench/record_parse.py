"""How long the wire listener takes to turn a Produce request's record batch into model records.

`codec.read_batches` checks a v2 batch (length, magic, CRC, count, budget-limited
decompression) and reads its records, with aiokafka's Cython reader (`_c_records`) when it
is installed, else with the pure-Python `_records`. This times both in the same process, on
the same 10,000-record batch written by kafka-python's DefaultRecordBatchBuilder (keys
"key-0".."key-99", 100-byte text values, one record in ten with a header, as a producer
benchmark sends), uncompressed and lz4-compressed; runs alternate between the two readers and
each figure is the median. "aiokafka alone" is the floor: iterating aiokafka's records and
reading their four fields, with no model strings built.

Run: .venv/bin/python bench/record_parse.py [--records 10000] [--runs 11]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kafka.record.default_records import DefaultRecordBatchBuilder  # noqa: E402

from playground.kafka import codec  # noqa: E402

COMMAND = ".venv/bin/python bench/record_parse.py"


def batch(records: int, compression: int) -> bytes:
    builder = DefaultRecordBatchBuilder(2, compression, False, -1, -1, -1, 2**31 - 1)
    for i in range(records):
        builder.append(i, 1_700_000_000_000 + i, b"key-%d" % (i % 100),
                       b"value-%06d-" % i + b"x" * 87, [("trace", b"%d" % i)] if i % 10 == 0
                       else [])
    return bytes(builder.build())


def timed(fn, data) -> float:
    start = time.perf_counter()
    fn(data)
    return time.perf_counter() - start


def reference(data):
    """read_batches as it runs without aiokafka's Cython reader."""
    c_batch, codec._CBatch = codec._CBatch, None
    try:
        return codec.read_batches(data)
    finally:
        codec._CBatch = c_batch


def aiokafka_alone(data):
    for r in codec._CBatch(data):
        r.key, r.value, r.headers, r.timestamp  # noqa: B018


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    if codec._CBatch is None:
        sys.exit("aiokafka's Cython record reader is not importable: nothing to compare")
    n = args.records
    print(f"{n:,} records a batch, median of {args.runs} runs, µs per record")
    for name, compression in (("uncompressed", 0), ("lz4", 3)):
        data = batch(n, compression)
        got = [b.records for b in codec.read_batches(data)]
        assert got == [b.records for b in reference(data)], "the two readers disagree"
        times = {"read_batches, aiokafka's reader": [], "read_batches, pure Python": []}
        for _ in range(args.runs):
            times["read_batches, aiokafka's reader"].append(timed(codec.read_batches, data))
            times["read_batches, pure Python"].append(timed(reference, data))
        medians = {k: statistics.median(v) / n * 1e6 for k, v in times.items()}
        for k, us in medians.items():
            print(f"  {name:<13} {k:<33} {us:6.2f}")
        c_us, py_us = medians.values()
        print(f"  {name:<13} {'speed-up':<33} {py_us / c_us:6.1f}x")
        if not compression:
            floor = statistics.median(timed(aiokafka_alone, data) for _ in range(args.runs))
            print(f"  {name:<13} {'aiokafka alone (no model strings)':<33} {floor / n * 1e6:6.2f}")
    print(f"reproduce: {COMMAND} --records {n} --runs {args.runs}")


if __name__ == "__main__":
    main()
