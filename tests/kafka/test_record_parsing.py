"""codec.read_batches' two record readers against each other: aiokafka's Cython reader
(`_c_records`, used whenever it is installed) must yield exactly the model records of the
pure-Python reference (`_records`) for every batch, and refuse exactly what it refuses, with
the same CorruptBatch. Batches are written here byte by byte, so they hold what builders never
write: non-minimal and 10-byte varints, timestamps that overflow a long, repeated and null
headers, unused attribute bits, counts that do not match."""

import gzip
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka.codec import lz4_encode, snappy_encode, zstd_encode
from kafka.record.util import calc_crc32c

from playground.kafka import codec

pytestmark = pytest.mark.skipif(codec._CBatch is None,
                                reason="aiokafka's Cython record reader is not installed")

LONG = 2**63
U64 = 2**64 - 1
ENCODE = {1: gzip.compress, 2: snappy_encode, 3: lz4_encode, 4: zstd_encode}


def varint(n: int, width: int = 0, junk: int = 0) -> bytes:
    """A zigzag varint of `n`, spread over at least `width` bytes (a non-minimal encoding, as
    Kafka reads it), with `junk` in the bits a 10th byte holds past the 64th (Java drops
    them)."""
    n = ((n << 1) ^ (n >> 63)) & U64
    out = bytearray()
    while n >= 0x80 or len(out) + 1 < width:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    if junk and len(out) == 10:
        out[9] |= (junk << 1) & 0x7E
    return bytes(out)


def nbytes(data: bytes | None, width: int = 0) -> bytes:
    return varint(-1, width) if data is None else varint(len(data), width) + data


def record(key, value, headers, ts_delta, offset_delta, attributes=0, width=0, junk=0):
    body = (bytes([attributes]) + varint(ts_delta, width, junk) + varint(offset_delta, width)
            + nbytes(key, width) + nbytes(value, width) + varint(len(headers), width)
            + b"".join(nbytes(name, width) + nbytes(v, width) for name, v in headers))
    return varint(len(body), width) + body


def batch(records: bytes, count: int, first_timestamp=1_700_000_000_000, attributes=0,
          producer=(-1, -1, -1)) -> bytes:
    if attributes & 0x07:
        records = ENCODE[attributes & 0x07](records)
    head = struct.pack(">bIhiqqqhii", 2, 0, attributes, max(count - 1, 0), first_timestamp,
                       first_timestamp, *producer, count)
    data = bytearray(struct.pack(">qii", 0, len(head) + len(records) + 4, 0) + head + records)
    struct.pack_into(">I", data, 17, calc_crc32c(bytes(data[21:])))
    return bytes(data)


def recrc(data: bytearray) -> bytes:
    if len(data) >= 61:
        struct.pack_into(">I", data, 17, calc_crc32c(bytes(data[21:])))
    return bytes(data)


def outcome(data: bytes, c_reader: bool):
    """What read_batches makes of `data` with or without aiokafka's reader: the batches'
    every field, or the CorruptBatch raised (anything else fails the test)."""
    saved = codec._CBatch
    if not c_reader:
        codec._CBatch = None
    try:
        return [(b.producer_id, b.producer_epoch, b.base_sequence, b.transactional,
                 list(b.records), b.inflated, b.size) for b in codec.read_batches(data)]
    except codec.CorruptBatch as e:
        return type(e).__name__, str(e)
    finally:
        codec._CBatch = saved


def c_reader_results(data: bytes, monkeypatch) -> list:
    """What `_c_records` itself returned for each batch (None: it left the batch to
    `_records`)."""
    seen = []
    real = codec._c_records

    def spy(view, count):
        seen.append(real(view, count))
        return seen[-1]

    with monkeypatch.context() as m:
        m.setattr(codec, "_c_records", spy)
        codec.read_batches(data)
    return seen


def same_outcome(data: bytes):
    c, reference = outcome(data, True), outcome(data, False)
    assert c == reference
    return c


payloads = st.one_of(
    st.none(),
    st.just(b""),
    st.binary(max_size=40),
    st.binary(min_size=64, max_size=300),  # lengths in two-byte varints
    st.text(max_size=40).map(lambda s: s.encode("utf-8")),
    st.sampled_from(["é", "日本語", "😀", "\x00", "\x00b64:", "\x00b64:aGk="])
    .map(lambda s: s.encode("utf-8")),
    st.text(max_size=20).map(lambda s: ("\x00b64:" + s).encode("utf-8")),
)
headers = st.lists(st.tuples(st.sampled_from([b"a", b"b", b"", "é".encode(), b"trace"]),
                             st.one_of(st.none(), payloads)), max_size=5)
deltas = st.one_of(st.integers(-64, 63), st.integers(-2**40, 2**40),
                   st.integers(-LONG, LONG - 1))
records = st.lists(st.tuples(payloads, payloads, headers, deltas,
                             st.integers(0, 127),  # attributes: bits Kafka leaves unused
                             st.sampled_from([0, 0, 0, 2, 5, 10]),  # varint width
                             st.integers(0, 63)),  # junk past a 10-byte varint's 64 bits
                   min_size=1, max_size=25)
first_timestamps = st.one_of(st.just(1_700_000_000_000), st.integers(-LONG, LONG - 1),
                             st.sampled_from([LONG - 1, -LONG, -1, 0]))


def write(recs, first_timestamp, attributes) -> bytes:
    body = b"".join(record(k, v, h, d, i, attributes=a, width=w, junk=j)
                    for i, (k, v, h, d, a, w, j) in enumerate(recs))
    return batch(body, len(recs), first_timestamp, attributes, producer=(7, 3, 11))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(recs=records, first_timestamp=first_timestamps,
       attributes=st.sampled_from([0, 0, 1, 2, 3, 4, 0x08, 0x10, 0x13]))
def test_aiokafkas_reader_yields_the_references_model_records(recs, first_timestamp,
                                                              attributes, monkeypatch):
    data = write(recs, first_timestamp, attributes)
    batches = same_outcome(data)
    [b] = batches
    assert b[3] == bool(attributes & 0x10) and b[:3] == (7, 3, 11)
    # Not the reference twice: aiokafka's reader read it.
    assert c_reader_results(data, monkeypatch) == [b[4]]
    # Create times are the records' own, wrapped as Java longs, whatever the timestamp type.
    assert [r[3] for r in b[4]] == [(first_timestamp + d + LONG) % 2**64 - LONG
                                    for _, _, _, d, _, _, _ in recs]


def test_model_records_by_kind():
    recs = [(None, None, [], 0), (b"", b"", [], -1), (b"k", b"\xff\xfe", [], 5),
            (b"\x00b64:aGk=", "é".encode(), [(b"h", None), (b"h", b"x"), (b"g", b"")], 1),
            (b"k", b"v", [(b"a", b"\x80"), (b"b", None)], 2**40)]
    data = batch(b"".join(record(k, v, h, d, i) for i, (k, v, h, d) in enumerate(recs)), 5)
    [b] = same_outcome(data)
    t = 1_700_000_000_000
    assert b[4] == [
        (None, None, None, t), ("", "", None, t - 1), ("k", "\x00b64://4=", None, t + 5),
        ("\x00b64:AGI2NDphR2s9", "é", [["h", None], ["h", "x"], ["g", ""]], t + 1),
        ("k", "v", {"a": "\x00b64:gA==", "b": None}, t + 2**40)]


@pytest.mark.parametrize("compression", [1, 2, 3, 4], ids=["gzip", "snappy", "lz4", "zstd"])
def test_compressed_batches_reach_aiokafka_decompressed_under_our_budget(compression,
                                                                         monkeypatch):
    """aiokafka decompresses without a bound: it is handed the batch we decompressed."""
    import aiokafka.record._crecords.default_records as c_module

    def refuse(*_):
        raise AssertionError("aiokafka decompressed a batch")

    for name in ("gzip_decode", "snappy_decode", "lz4_decode", "zstd_decode"):
        monkeypatch.setattr(c_module, name, refuse)
    recs = [(b"k%d" % i, b"v" * i, [(b"h", b"%d" % i)]) for i in range(100)]
    data = batch(b"".join(record(k, v, h, i, i) for i, (k, v, h) in enumerate(recs)), 100,
                 attributes=compression)
    [b] = same_outcome(data)
    assert b[5] > 0 and len(b[4]) == 100 and b[4][99][:2] == ("k99", "v" * 99)
    assert c_reader_results(data, monkeypatch) == [b[4]]
    with pytest.raises(codec.BatchTooLarge):
        codec.read_batches(data, budget=b[5] - 1)


def test_an_unused_record_attribute_bit_is_ignored_as_kafka_ignores_it(monkeypatch):
    """A record's attributes are an int8 whose bits Kafka leaves unused (it reads one byte and
    ignores it); aiokafka reads a varint there, so 0x80 misleads it: it refuses the batch, and
    the reference reads it as Kafka does."""
    data = batch(record(b"key", b"hello", [(b"h", b"x")], 3, 0, attributes=0x80), 1)
    [b] = same_outcome(data)
    assert b[4] == [("key", "hello", {"h": "x"}, 1_700_000_000_003)]
    assert c_reader_results(data, monkeypatch) == [None]


@pytest.mark.xfail(strict=True, reason="the one known difference between the readers: a record "
                   "attributes byte over 0x7f (unused bits, 0 from every client) that aiokafka's "
                   "varint reading turns into another valid record; see codec._c_records")
def test_a_record_attributes_byte_over_0x7f_can_mislead_aiokafkas_reader():
    # aiokafka: attributes 0x80 0x06, timestamp delta 0, offset delta 1, key "k" read as the
    # varint -54 (null), then the same value and header: as many bytes as the record holds.
    same_outcome(batch(record(b"k", b"hello", [(b"h", b"x")], 3, 0, attributes=0x80), 1))


@pytest.mark.parametrize(("records", "count", "message"), [
    (record(b"k", b"v", [], 0, 0) * 2, 3, "records do not decode: IndexError"),
    (record(b"k", b"v", [], 0, 0) * 2, 1, "bytes after a batch's last record"),
    (record(b"k", b"v", [], 0, 0) + b"\x00", 1, "bytes after a batch's last record"),
    (record(b"k", b"v", [(b"\xff", b"x")], 0, 0), 1, "UnicodeDecodeError"),
    (record(b"k", b"v", [], 0, 0)[:-1] + varint(-1), 1, "a negative header count"),
    (varint(12) + b"\x00" + b"\xff" * 11, 1, "a varint is too long"),
    (record(b"k", b"v", [], 0, 0)[:-3], 1, "records do not decode"),
])
def test_malformed_records_are_refused_with_the_references_message(records, count, message):
    for attributes in (0, 1, 3):
        kind, text = same_outcome(batch(records, count, attributes=attributes))
        assert kind == "CorruptBatch" and message in text


# Batches the builder above writes, then bytes changed or cut (CRC made right again so the
# records are read): whatever the bytes, both readers agree, and nothing but CorruptBatch
# leaves read_batches. Several batches in one call: aiokafka's reader reads past a batch's end
# into the next, or into the padding after the last.
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recs=records, attributes=st.sampled_from([0, 0, 0, 1, 3, 0x08]),
       edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
       cut=st.integers(0, 40), fix_length=st.booleans(), twice=st.booleans())
def test_mutated_batches_get_the_same_answer_from_both_readers(recs, attributes, edits, cut,
                                                                fix_length, twice):
    data = bytearray(write(recs, 1_700_000_000_000, attributes))
    for where, byte in edits:
        data[61 + where % (len(data) - 61) if len(data) > 61 else 0] = byte
    data = data[:len(data) - min(cut, len(data) - 61)]
    if fix_length:
        struct.pack_into(">i", data, 8, len(data) - 12)
    data = recrc(data)
    data = data + data if twice else data
    if attribute_bytes_over_0x7f(data):
        # the known difference (see the xfail above): aiokafka's reading is still a valid one
        c = outcome(data, True)
        assert isinstance(c, tuple) or all(len(r) == 4 for b in c for r in b[4])
    else:
        same_outcome(data)


def attribute_bytes_over_0x7f(data: bytes) -> bool:
    """Whether any record, found by its length as the reference finds it, has an attributes
    byte over 0x7f (walking on past a record the reference refuses errs toward True)."""
    pos = 0
    while pos + 61 <= len(data):
        (length,) = struct.unpack_from(">i", data, pos + 8)
        end = min(pos + 12 + max(length, 49), len(data))
        body = data[pos + 61:end]
        kind = struct.unpack_from(">h", data, pos + 21)[0] & 0x07
        if kind:
            try:
                body = codec._decompress(kind, body, 1 << 24)
            except Exception:
                body = b""
        at = 0
        while at < len(body):
            try:
                n, at = codec._varint(body, at)
            except Exception:
                break
            if at < len(body) and body[at] > 0x7F:
                return True
            at += max(n, 1)
        pos = end
    return False


@pytest.mark.parametrize("data", [b"\x01", bytes(range(40)), b"\x80" * 30, b"\xff" * 30])
def test_a_batch_ending_inside_a_varint_is_refused(data):
    """The record bytes end mid-varint (continuation bits set to the last byte): the read
    stops at the padding, not in memory past the request."""
    kind, _ = same_outcome(batch(data, 1))
    assert kind == "CorruptBatch"


@pytest.mark.parametrize("data", [b"", b"text", "é".encode(), b"\xff", b"\x00b64:aGk="])
def test_to_model_reads_any_buffer_as_bytes(data):
    assert codec.to_model(memoryview(data)) == codec.to_model(bytearray(data)) \
        == codec.to_model(data)
    assert codec.from_model(codec.to_model(data)) == data
