"""Where a record goes: Kafka's default partitioner, reproduced exactly.

Keyed records go to ``(murmur2(key) & 0x7fffffff) % partitions`` where murmur2 is the 32-bit
variant Kafka's Java client uses (``org.apache.kafka.common.utils.Utils.murmur2``, seed
0x9747b28c), computed over the key's UTF-8 bytes with Java's signed 32-bit arithmetic.

Records without a key use the sticky partitioner (KIP-480, refined by KIP-794): a producer keeps
sending to one partition until it has sent about a batch (``batch.size``, 16 KiB) there, then
picks another at random. "Random" here is the producer's own seeded ``random.Random``, so the
same seed always picks the same partitions.

murmur2 runs in C (broker_core/_murmur2.c, built in place by `make`) when that module was built;
otherwise in Python. ``murmur2_py`` is the reference either way: the tests check both against
Kafka's golden values and the C one against it. ``MURMUR2_IMPLEMENTATION`` says which is in use.
"""

import random
import struct

_M = 0x5BD1E995
_SEED = 0x9747B28C
_MASK = 0xFFFFFFFF
BATCH_SIZE_BYTES = 16_384


def murmur2_py(data: bytes, _m=_M, _mask=_MASK) -> int:
    """Kafka's murmur2 of `data` as a signed 32-bit int, the value Java returns (the reference)."""
    length = len(data)
    h = _SEED ^ length
    words = length >> 2
    # Java reads little-endian 4-byte words; unpacking them all at once is much cheaper in
    # Python than assembling each from bytes. (a ^ b) & mask == (a & mask) ^ (b & mask), so
    # one mask per step is enough.
    for k in _unpack(_WORD_FORMATS[words] if words < 64 else f"<{words}I", data):
        k = (k * _m) & _mask
        h = ((h * _m) ^ ((k ^ (k >> 24)) * _m)) & _mask
    rest = length & 3
    if rest:
        end = words << 2
        if rest == 3:
            h ^= data[end + 2] << 16
        if rest >= 2:
            h ^= data[end + 1] << 8
        h = ((h ^ data[end]) * _m) & _mask
    h = ((h ^ (h >> 13)) * _m) & _mask
    h ^= h >> 15
    return h - 0x100000000 if h & 0x80000000 else h


_unpack = struct.unpack_from
_WORD_FORMATS = [f"<{n}I" for n in range(64)]


def key_hash_py(key: str) -> int:
    """murmur2 of the key's UTF-8 bytes (the reference)."""
    return murmur2_py(key.encode("utf-8"))


# The C module computes the same values without a big integer per step (it was a quarter of the
# producer hot path); its key_hash also skips the bytes object for ASCII keys. A missing or
# unloadable build (no compiler, another Python) falls back here rather than failing: the values
# are the same, only slower, and tests/broker_core/test_partitioner.py fails where the C module
# could have been built but was not.
try:
    from ._murmur2 import key_hash, murmur2
except ImportError:
    murmur2 = murmur2_py
    key_hash = key_hash_py
    MURMUR2_IMPLEMENTATION = "python"
else:
    MURMUR2_IMPLEMENTATION = "c"


def partition_for_key(key: str, partitions: int) -> int:
    """The partition Kafka's Java producer picks for `key` among `partitions`."""
    return (key_hash(key) & 0x7FFFFFFF) % partitions


class StickyPartitioner:
    """Per-producer state for null-key records (KIP-480 / KIP-794)."""

    __slots__ = ("_rng", "_current", "_bytes", "batch_size")

    def __init__(self, rng: random.Random, batch_size: int = BATCH_SIZE_BYTES):
        self._rng = rng
        self._current: dict[str, int] = {}
        self._bytes: dict[str, int] = {}
        self.batch_size = batch_size

    def partition(self, topic: str, partitions: int, size: int) -> int:
        current = self._current.get(topic)
        if current is None or current >= partitions or self._bytes[topic] >= self.batch_size:
            current = self._next(current, partitions)
            self._current[topic] = current
            self._bytes[topic] = 0
        self._bytes[topic] += size
        return current

    def _next(self, previous: int | None, partitions: int) -> int:
        if partitions == 1:
            return 0
        if previous is None or previous >= partitions:
            return self._rng.randrange(partitions)
        # A new batch goes somewhere else, so null-key load spreads over time.
        choice = self._rng.randrange(partitions - 1)
        return choice if choice < previous else choice + 1
