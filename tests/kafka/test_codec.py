"""codec.read_batches against kafka-python's own record batch reader (a differential test):
the hand-written parser must yield exactly what DefaultRecordBatch yields for any batch
DefaultRecordBatchBuilder writes, in every compression, and hostile bytes may only ever raise
CorruptBatch."""

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from kafka.record.util import calc_crc32c

from broker_core.log import header_pairs
from playground.kafka import codec

payloads = st.one_of(
    st.none(),
    st.binary(max_size=300),
    # Text, and text that looks like the model's own escape for non-UTF-8 bytes.
    st.text(max_size=60).map(lambda s: s.encode("utf-8")),
    st.text(max_size=40).map(lambda s: ("\x00" + s).encode("utf-8")),
    st.text(max_size=40).map(lambda s: ("\x00b64:" + s).encode("utf-8")),
)
header_lists = st.lists(
    st.tuples(st.text(max_size=20), st.one_of(st.none(), st.binary(max_size=50))),
    max_size=5, unique_by=lambda h: h[0])
record_lists = st.lists(st.tuples(payloads, payloads, header_lists), min_size=1, max_size=30)


def build(records, compression: int = 0, producer=(-1, -1, -1)) -> bytes:
    builder = DefaultRecordBatchBuilder(2, compression, False, *producer, 2**31 - 1)
    for i, (key, value, headers) in enumerate(records):
        builder.append(i, 1_700_000_000_000 + i, key, value, headers)
    return bytes(builder.build())


def reference(data: bytes) -> list:
    """What kafka-python's reader finds in one batch, as (key, value, headers) bytes."""
    batch = DefaultRecordBatch(bytearray(data))
    assert batch.validate_crc()
    return [(r.key, r.value, r.headers) for r in batch]


def ours(data: bytes) -> list:
    [batch] = codec.read_batches(data)
    return [(codec.from_model(k), codec.from_model(v),
             [(n, codec.from_model(h)) for n, h in header_pairs(headers)])
            for k, v, headers, _ in batch.records]


@settings(max_examples=40, deadline=None)
@given(records=st.lists(st.tuples(payloads, payloads, st.lists(
    st.tuples(st.sampled_from(["a", "b", ""]), st.one_of(st.none(), st.binary(max_size=5))),
    max_size=4)), min_size=1, max_size=10))
def test_headers_keep_every_name_sent_twice_in_order(records):
    """Kafka keeps every header as sent, a name twice included (Headers.headers(name))."""
    data = build(records)
    assert ours(data) == reference(data)


def test_read_batches_keeps_each_records_create_time():
    data = build([(b"k", b"v", []), (None, b"w", [])])
    [batch] = codec.read_batches(data)
    assert [r[3] for r in batch.records] == [1_700_000_000_000, 1_700_000_000_001]
    assert batch.size == len(data)


@pytest.mark.parametrize("compression", [0, 1, 2, 3, 4], ids=["none", "gzip", "snappy",
                                                               "lz4", "zstd"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=record_lists)
def test_read_batches_yields_what_kafka_pythons_reader_yields(compression, records):
    data = build(records, compression)
    assert ours(data) == reference(data)


@settings(max_examples=40, deadline=None)
@given(records=record_lists, pid=st.integers(0, 2**40), epoch=st.integers(0, 32_767),
       seq=st.integers(0, 2**31 - 1))
def test_producer_fields_are_read_as_written(records, pid, epoch, seq):
    [batch] = codec.read_batches(build(records, producer=(pid, epoch, seq)))
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (pid, epoch, seq)
    assert len(batch.records) == len(records) and not batch.transactional


def recrc(data: bytearray) -> bytes:
    """The batch with its CRC made right again: mutations then reach the record parser."""
    if len(data) >= 61:
        struct.pack_into(">I", data, 17, calc_crc32c(bytes(data[21:])))
    return bytes(data)


def only_corrupt(data: bytes) -> None:
    try:
        codec.read_batches(data)
    except codec.CorruptBatch:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=record_lists, compression=st.sampled_from([0, 0, 0, 1, 2, 3, 4]),
       cut=st.integers(0, 10_000), edits=st.lists(
           st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
       fix_crc=st.booleans(), fix_length=st.booleans())
def test_truncated_or_mutated_batches_only_raise_corrupt_batch(records, compression, cut,
                                                               edits, fix_crc, fix_length):
    data = bytearray(build(records, compression))
    for where, byte in edits:
        # Past the 61-byte header most edits land in the records (or the compressed body).
        data[where % len(data)] = byte
    data = data[:len(data) - cut % (len(data) + 1)] if cut % 3 == 0 else data
    if fix_length and len(data) >= 12:
        struct.pack_into(">i", data, 8, len(data) - 12)
    only_corrupt(recrc(data) if fix_crc else bytes(data))


@settings(max_examples=200, deadline=None)
@given(body=st.binary(min_size=0, max_size=200), count=st.integers(-3, 2**31 - 1),
       attributes=st.integers(0, 2**15 - 1))
def test_any_record_bytes_behind_a_valid_header_only_raise_corrupt_batch(body, count,
                                                                         attributes):
    header = bytearray(61)
    struct.pack_into(">qiibIhiqqqhii", header, 0, 0, 49 + len(body), 0, 2, 0, attributes,
                     0, 0, 0, -1, -1, -1, count)
    only_corrupt(recrc(header + body))


any_text = st.one_of(
    st.text(max_size=40),
    st.text(max_size=40).map(lambda s: "\x00b64:" + s),
    st.binary(max_size=40).map(lambda b: "\x00b64:" + __import__("base64").b64encode(b)
                               .decode()),
    st.sampled_from(["\x00b64:%%%", "\x00b64:aGk=", "\x00b64:aGk", "\ud800", "a\udfffb",
                     "\x00b64:\ud800"]),
)


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(st.none(), st.binary(max_size=60)))
def test_every_byte_string_round_trips_through_the_model(data):
    assert codec.from_model(codec.to_model(data)) == data


@settings(max_examples=300, deadline=None)
@given(text=any_text)
def test_any_model_text_has_wire_bytes(text):
    """Records the page or the built-in producers wrote reach wire consumers: from_model
    never fails, and text that is not one of to_model's escapes goes out as its own UTF-8."""
    data = codec.from_model(text)
    assert isinstance(data, bytes)
    if codec.to_model(data) != text:
        assert data == text.encode("utf-8", "replace")
    assert codec.from_model("\x00b64:aGk=") == b"\x00b64:aGk="  # not an escape of b"hi"


def test_write_batch_writes_any_model_record():
    records = [(0, "\x00b64:%%%", "\x00b64:aGk=", {"h\ud800": "\udfff"}, 5),
               (1, None, codec.to_model(b"\xff\x00"), None, 6)]
    got = reference(codec.write_batch(records, 0, 1_000))
    assert got == [(b"\x00b64:%%%", b"\x00b64:aGk=", [("h?", b"?")]),
                   (None, b"\xff\x00", [])]


def varint(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def gzip_bomb_batch(value_bytes: int) -> bytes:
    """One record whose value is `value_bytes` zeros, gzip-compressed as it is streamed (the
    batch itself is a few KiB per 10 MiB)."""
    import zlib

    fields = b"\x00" + varint(0) + varint(0) + varint(-1) + varint(value_bytes)
    head = varint(len(fields) + value_bytes + 1) + fields
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [z.compress(head)]
    chunk = bytes(1 << 20)
    left = value_bytes
    while left:
        parts.append(z.compress(chunk[:min(left, len(chunk))]))
        left -= min(left, len(chunk))
    parts += [z.compress(varint(0)), z.flush()]
    body = b"".join(parts)
    header = bytearray(61)
    struct.pack_into(">qiibIhiqqqhii", header, 0, 0, 49 + len(body), 0, 2, 0, 1, 0, 0, 0,
                     -1, -1, -1, 1)
    return recrc(header + body)


@pytest.mark.parametrize("compression", [1, 2, 3, 4], ids=["gzip", "snappy", "lz4", "zstd"])
def test_compressed_records_past_the_budget_are_refused_before_they_are_inflated(compression):
    data = build([(None, bytes(5_000), [])] * 20, compression)  # 100 kB of zeros
    assert len(data) < 10_000
    assert sum(len(r) for r in codec.read_batches(data, budget=120_000)[0].records[0][1:2]) \
        == 5_000
    with pytest.raises(codec.BatchTooLarge) as e:
        codec.read_batches(data, budget=50_000)
    assert e.value.error == "MESSAGE_TOO_LARGE"
    # The budget is shared by the batches of one call.
    with pytest.raises(codec.BatchTooLarge):
        codec.read_batches(data + data, budget=150_000)


def test_a_gzip_bomb_is_refused_at_the_cap():
    data = gzip_bomb_batch(codec.MAX_DECOMPRESSED_BYTES + 1)
    assert len(data) < 200_000
    with pytest.raises(codec.BatchTooLarge):
        codec.read_batches(data)
    [batch] = codec.read_batches(gzip_bomb_batch(1_000))
    assert batch.records[0][1] == "\x00" * 1_000 and batch.inflated > 1_000


def test_a_null_where_the_schema_allows_none_does_not_decode():
    """kafka-python decodes length -1 as None in any string field; FindCoordinator's key is
    not nullable, and a null one reached the handler, which failed on it."""
    body = struct.pack(">h", -1) + b"\x00"  # key: null string, key_type 0
    frame = struct.pack(">hhih", 10, 1, 5, 1) + b"c" + body
    header = codec.parse_header(frame)
    with pytest.raises(codec.FrameError, match="key is null"):
        codec.decode_request(header, frame)
    # A nullable field may be null: Metadata v1's topics (all topics).
    frame = struct.pack(">hhih", 3, 1, 6, 1) + b"c" + struct.pack(">i", -1)
    assert codec.decode_request(codec.parse_header(frame), frame).topics is None
