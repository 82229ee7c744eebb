"""Kafka's default partitioner: murmur2 for keys, sticky for null keys."""

import random

from broker_core.partitioner import StickyPartitioner, key_hash, murmur2, partition_for_key

from .helpers import cluster_with_topic, of_type

# Golden values from Kafka's UtilsTest.testMurmur2
# (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
KAFKA_MURMUR2 = {
    "21": -973932308,
    "foobar": -790332482,
    "a-little-bit-long-string": -985981536,
    "a-little-bit-longer-string": -1486304829,
    "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    "abc": 479470107,
}


def test_murmur2_matches_kafka_golden_values():
    for key, expected in KAFKA_MURMUR2.items():
        assert murmur2(key.encode()) == expected, key
        assert key_hash(key) == expected, key


def test_keys_land_where_kafkas_java_producer_puts_them():
    for key in ("21", "foobar", "abc"):
        for n in (3, 7):
            expected = (KAFKA_MURMUR2[key] & 0x7FFFFFFF) % n
            assert partition_for_key(key, n) == expected
    # Spelled out, so a reader can check by hand.
    assert [partition_for_key(k, 3) for k in ("21", "foobar", "abc")] == [0, 0, 0]
    assert [partition_for_key(k, 7) for k in ("21", "foobar", "abc")] == [3, 0, 4]


def test_murmur2_handles_every_tail_length_and_non_ascii():
    # Each length mod 4 takes a different tail branch; UTF-8 bytes are what is hashed.
    values = [murmur2(b"x" * n) for n in range(9)]
    assert len(set(values)) == 9
    assert key_hash("héllo") == murmur2("héllo".encode())
    assert all(-(2**31) <= v < 2**31 for v in values)


def test_record_produced_says_why_it_went_there():
    cluster = cluster_with_topic(partitions=7)
    events = cluster.apply({"type": "produce", "topic": "order-placed", "key": "abc",
                            "value": "v"})
    produced = of_type(events, "record.produced")[0]
    assert produced["partition"] == 4
    assert produced["why"] == {"method": "murmur2", "hash": 479470107, "partitions": 7}
    events = cluster.apply({"type": "produce", "topic": "order-placed", "value": "v",
                            "partition": 2})
    assert of_type(events, "record.produced")[0]["why"] == {"method": "explicit"}
    events = cluster.apply({"type": "produce", "topic": "order-placed", "value": "v"})
    assert of_type(events, "record.produced")[0]["why"] == {"method": "sticky"}


def test_sticky_partitioner_sticks_for_a_batch_then_moves_elsewhere():
    sticky = StickyPartitioner(random.Random("seed"), batch_size=100)
    first = [sticky.partition("t", 4, 10) for _ in range(10)]  # exactly one batch
    assert len(set(first)) == 1
    after = sticky.partition("t", 4, 10)
    assert after != first[0]


def test_sticky_choice_comes_from_the_seed():
    def run(seed):
        cluster = cluster_with_topic(partitions=6, seed=seed)
        out = []
        for _ in range(400):
            out += of_type(cluster.apply({"type": "produce", "topic": "order-placed",
                                          "value": "x" * 100}), "record.produced")
        return [e["partition"] for e in out]

    assert run(1) == run(1)
    assert len(set(run(1))) > 1  # 40 KB of records span several 16 KiB batches
    assert run(1) != run(2)
