"""Kafka's default partitioner: murmur2 for keys, sticky for null keys.

murmur2 exists twice: in C (broker_core/_murmur2.c, built by `make`) and in Python (the
reference). Both must give Kafka's golden values, the C one must agree with the reference on any
input, and where the C one can be built it must be the one in use.
"""

import os
import random
import sysconfig
from pathlib import Path

import pytest

from broker_core import partitioner
from broker_core.partitioner import (
    StickyPartitioner,
    key_hash,
    key_hash_py,
    murmur2,
    murmur2_py,
    partition_for_key,
)
from tests.conftest import require_program

from .helpers import cluster_with_topic, of_type

try:
    from broker_core import _murmur2
except ImportError:  # not built here: the C cases skip, and the in-use test says why
    _murmur2 = None

C_SOURCE = Path(partitioner.__file__).with_name("_murmur2.c")
# Fixed so a failure reproduces; change it to explore other inputs.
CORPUS_SEED = 20260414

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


def _implementation(name):
    if name == "python":
        return murmur2_py, key_hash_py
    if _murmur2 is None:
        pytest.skip("broker_core._murmur2 is not built (see the in-use test below)")
    return _murmur2.murmur2, _murmur2.key_hash


@pytest.mark.parametrize("name", ["python", "c"])
def test_both_murmur2_implementations_give_kafkas_golden_values(name):
    hash_bytes, hash_key = _implementation(name)
    for key, expected in KAFKA_MURMUR2.items():
        data = key.encode()
        assert hash_bytes(data) == expected, key
        assert hash_bytes(bytearray(data)) == expected, key
        assert hash_bytes(memoryview(data)) == expected, key
        assert hash_key(key) == expected, key


def test_c_murmur2_equals_the_python_reference_on_random_bytes():
    hash_bytes, _ = _implementation("c")
    rng = random.Random(CORPUS_SEED)
    # Lengths 0..300 cover every tail (length % 4) many times over; random bytes are half
    # >= 0x80, where a sign-extended tail byte (a classic port bug) would show.
    corpus = [rng.randbytes(rng.randrange(301)) for _ in range(20_000)]
    corpus += [bytes([fill]) * n for n in range(65) for fill in (0x00, 0x7F, 0x80, 0xFF)]
    for data in corpus:
        assert hash_bytes(data) == murmur2_py(data), (
            f"seed {CORPUS_SEED}: C and Python differ on {data.hex()} (length {len(data)})")
    # A view into the middle of a buffer: the C one must hash from the view's start.
    backing = rng.randbytes(512)
    for start in range(0, 64, 3):
        view = memoryview(backing)[start:start + 37 + start]
        assert hash_bytes(view) == murmur2_py(bytes(view)), f"seed {CORPUS_SEED}, start {start}"


def test_c_key_hash_equals_the_python_reference_on_random_str():
    _, hash_key = _implementation("c")
    rng = random.Random(CORPUS_SEED)
    # ASCII takes the C fast path (no bytes object); the rest is encoded to UTF-8 first.
    alphabet = "order-0123456789 AZaz_é€\u0800\uffff😀"
    for _ in range(5_000):
        key = "".join(rng.choice(alphabet) for _ in range(rng.randrange(48)))
        assert hash_key(key) == key_hash_py(key), f"seed {CORPUS_SEED}: differ on {key!r}"
    # A lone surrogate has no UTF-8: both refuse it the same way.
    for hash_fn in (hash_key, key_hash_py):
        with pytest.raises(UnicodeEncodeError):
            hash_fn("order-\ud800")


def test_c_murmur2_names_the_type_it_refuses():
    hash_bytes, hash_key = _implementation("c")
    with pytest.raises(TypeError, match="murmur2: data must be bytes, bytearray or memoryview, "
                                        "not str"):
        hash_bytes("order-1")
    with pytest.raises(TypeError, match="key_hash: key must be str, not bytes"):
        hash_key(b"order-1")


def test_c_murmur2_is_in_use_wherever_it_can_be_built():
    # What setuptools compiles with: $CC if set, else the compiler Python was built with.
    compiler = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    require_program(compiler, "a C compiler, e.g. apt-get install gcc")
    if not (C_SOURCE.is_file() and Path(sysconfig.get_paths()["include"], "Python.h").is_file()):
        pytest.skip("no _murmur2.c or no Python headers here: pure-Python murmur2 is expected")
    rebuild = ("run `make pytest`, or `.venv/bin/python setup.py -q build_ext --inplace` "
               "(make logs the build to build/murmur2-build.log)")
    assert partitioner.MURMUR2_IMPLEMENTATION == "c", (
        f"broker_core/_murmur2.c can be built with {compiler} here, but the partitioner fell "
        f"back to pure Python: {rebuild}")
    # Whole seconds: setuptools copies the built module into place with its time truncated.
    built = Path(_murmur2.__file__)
    assert int(built.stat().st_mtime) >= int(C_SOURCE.stat().st_mtime), (
        f"{built.name} is older than _murmur2.c: {rebuild}")
