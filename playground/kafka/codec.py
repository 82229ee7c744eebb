"""A thin adapter over kafka-python 3's protocol and record modules (the only place that
imports ``kafka.*``) and aiokafka's Cython record reader, which reads Produce records four
times faster than Python (`read_batches`; the pure-Python `_records` is its fallback and
reference).

Frames are ``int32 size`` + ``size`` bytes. A request is a header (api_key, api_version,
correlation_id, client_id, and tagged fields when the request version is flexible) and a body
decoded by kafka-python's generated classes for (api_key, version). Handlers read the decoded
request's attributes (Kafka's JSON-schema field names in snake_case: ``request.topics``,
``t.name`` ...) and answer with a plain dict in the same names; `encode_response` turns that into
kafka-python's response object (missing fields take the schema's defaults) and bytes.

Bytes and the model's strings: keys, values and header values are bytes on the wire and str in
the model (`to_model` / `from_model`): bytes that are valid UTF-8 are stored as that str; other
bytes as ``"\\u0000b64:" + base64`` (a NUL then ``b64:``: no UTF-8 text a client sends starts
that way... except text that does, which is escaped the same way), so every byte string
round-trips exactly.
"""

import base64
import operator
import struct
import uuid

from kafka.protocol import admin as _admin  # noqa: F401  (registers the admin API classes)
from kafka.protocol import consumer as _consumer  # noqa: F401
from kafka.protocol import metadata as _metadata  # noqa: F401
from kafka.protocol import producer as _producer  # noqa: F401
from kafka.protocol.api_message import ApiMessage

from broker_core.clients import Records
from broker_core.log import BYTES_MARK, header_pairs

try:  # aiokafka's record reader; its Cython build is the one worth using (see _c_records)
    from aiokafka.record.default_records import DefaultRecordBatch as _CBatch
except ImportError:  # pragma: no cover - aiokafka is pinned in requirements.txt
    _CBatch = None
if _CBatch is not None and not _CBatch.__module__.startswith("aiokafka.record._crecords"):
    _CBatch = None  # its pure-Python reader (AIOKAFKA_NO_EXTENSIONS) is slower than _records

# Kafka's socket.request.max.bytes is 100 MiB; real clients send at most a few MiB
# (max.request.size / message.max.bytes default to 1 MiB), so 8 MiB refuses garbage sizes early.
MAX_FRAME_BYTES = 8 * 1024 * 1024
# Kafka's socket.request.max.bytes: a bigger frame closes the connection, as in Kafka. A
# Produce between MAX_FRAME_BYTES and this is read through (not kept) and answered
# MESSAGE_TOO_LARGE, as Kafka answers a batch over max.message.bytes (see oversized_produce).
SOCKET_REQUEST_MAX_BYTES = 100 * 1024 * 1024


class FrameError(Exception):
    """A frame that cannot be a request: the connection that sent it is closed."""


def _classes() -> tuple[dict, dict]:
    requests, responses = {}, {}

    def walk(cls):
        for sub in cls.__subclasses__():
            if getattr(sub, "_class_version", 1) is None and sub._json:
                table = requests if sub._json["type"] == "request" else responses
                table.setdefault(sub.API_KEY, sub)
            walk(sub)

    walk(ApiMessage)
    return requests, responses


REQUESTS, RESPONSES = _classes()


# Versions Kafka 4.4 serves that kafka-python 3 has no schema of, read with the schema of the
# version named here because a request's bytes are the same (Kafka's message JSON says so):
# DeleteGroups v3 (its response adds an error message per group: _write_delete_groups_v3);
# ApiVersions v5, whose response is v4's and whose request adds the cluster and node id a
# client believes it reached (franz-go sends them): a handler that never reads them, so its
# body is not parsed (BODY_UNREAD) and the answer is v4's bytes.
SAME_REQUEST_AS = {(18, 5): 4, (42, 3): 2}
BODY_UNREAD = {(18, 5)}


def versions(api_key: int) -> tuple[int, int] | None:
    """The versions this adapter can decode for this API, or None."""
    cls = REQUESTS.get(api_key)
    if cls is None:
        return None
    low, high = cls.valid_versions
    while (api_key, high + 1) in SAME_REQUEST_AS:
        high += 1
    return low, high


def schema_version(api_key: int, version: int) -> int:
    """The kafka-python schema version that reads (api_key, version)."""
    return SAME_REQUEST_AS.get((api_key, version), version)


class Header:
    __slots__ = ("api_key", "api_version", "correlation_id", "client_id", "body_offset")

    def __init__(self, api_key, api_version, correlation_id, client_id, body_offset):
        self.api_key = api_key
        self.api_version = api_version
        self.correlation_id = correlation_id
        self.client_id = client_id
        self.body_offset = body_offset

    def __repr__(self):
        return (f"Header(api_key={self.api_key}, api_version={self.api_version}, "
                f"correlation_id={self.correlation_id}, client_id={self.client_id!r})")


_HEAD = struct.Struct(">hhih")


def _skip_tags(data, pos: int) -> int:
    count, pos = _uvarint(data, pos)
    for _ in range(count):
        _, pos = _uvarint(data, pos)
        size, pos = _uvarint(data, pos)
        pos += size
        if pos > len(data):
            raise FrameError("a tagged field runs past the end of the frame")
    return pos


def _uvarint(data, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise FrameError("a varint runs past the end of the frame")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 28:
            raise FrameError("a varint is too long")


def flexible(api_key: int, version: int) -> bool:
    """Whether (api_key, version) is a flexible version (KIP-482: a v2 request header with
    tagged fields, compact encodings); False for an API or version this adapter cannot decode."""
    version = schema_version(api_key, version)
    cls = REQUESTS.get(api_key)
    return cls is not None and 0 <= version <= cls.max_version and cls.flexible_version_q(version)


def parse_header(frame: bytes) -> Header:
    """The request header of one frame (without its size prefix). Raises FrameError.

    The client id is always a non-compact nullable string (header v1 and v2 alike); the tagged
    fields follow only when the request version is flexible (header v2). An API or version we
    cannot decode still yields a header: the caller answers or closes."""
    if len(frame) < _HEAD.size:
        raise FrameError(f"a request header is at least {_HEAD.size} bytes, not {len(frame)}")
    api_key, api_version, correlation_id, n = _HEAD.unpack_from(frame, 0)
    pos = _HEAD.size
    if n < -1 or pos + max(n, 0) > len(frame):
        raise FrameError("the client id runs past the end of the frame")
    client_id = None
    if n >= 0:
        try:
            client_id = bytes(frame[pos:pos + n]).decode("utf-8")
        except UnicodeDecodeError:
            raise FrameError("the client id is not UTF-8") from None
        pos += n
    header = Header(api_key, api_version, correlation_id, client_id, pos)
    if flexible(api_key, api_version):
        header.body_offset = _skip_tags(frame, pos)
    return header


def decode_request(header: Header, frame: bytes):
    """The request body as kafka-python's object (attributes named as in Kafka's schemas).
    Raises FrameError for an API/version it cannot decode or bytes that are not one."""
    cls = REQUESTS.get(header.api_key)
    if cls is None:
        raise FrameError(f"unknown API key {header.api_key}")
    low, high = versions(header.api_key)
    if not low <= header.api_version <= high:
        raise FrameError(f"API {cls.name} has no version {header.api_version}")
    version = schema_version(header.api_key, header.api_version)
    if (header.api_key, header.api_version) in BODY_UNREAD:
        return cls(version=version)
    try:
        request = cls.decode(memoryview(frame)[header.body_offset:], version=version)
    except Exception as e:  # kafka-python raises struct.error, ValueError, IndexError, ...
        raise FrameError(f"{cls.name} v{header.api_version} does not decode: "
                         f"{type(e).__name__}") from None
    _check_nulls(request, version, cls.name)
    return request


def _check_nulls(obj, version: int, where: str) -> None:
    """kafka-python decodes a null (length -1) in any string, bytes or array field; Kafka's
    parser refuses one where the schema does not allow it, and so do we (FrameError: the
    connection closes), so handlers never meet a None where Kafka promises a value."""
    for name, field in obj._struct.fields.items():
        if not field.for_version_q(version) or field.tagged_field_q(version):
            continue
        value = getattr(obj, name, None)
        if value is None:
            if field.type_str in _NEVER_NULL or field.nullable_for_version_q(version):
                continue
            raise FrameError(f"{where}: {name} is null, which v{version} does not allow")
        if field.is_struct_array():
            for item in value:
                _check_nulls(item, version, where)
        elif field.is_struct():
            _check_nulls(value, version, where)


# Fixed-size types decode to a value, never None.
_NEVER_NULL = frozenset({"int8", "int16", "int32", "int64", "uint16", "bool", "uuid",
                         "float64"})


def _build(data_class, version, value):
    """A kafka-python data object from a plain dict (nested dicts and lists of dicts)."""
    if not isinstance(value, dict):
        return value  # already built, or a scalar
    fields = data_class._struct.fields
    kwargs = {}
    for name, item in value.items():
        field = fields[name]
        if not field.for_version_q(version):
            continue  # handlers may answer with every version's fields; this one lacks it
        if field.is_struct_array() and item is not None:
            kwargs[name] = [_build(field.data_class, version, v) for v in item]
        elif field.is_struct() and item is not None:
            kwargs[name] = _build(field.data_class, version, item)
        else:
            kwargs[name] = item
    return data_class(version=version, **kwargs)


def encode_response(header: Header, body: dict, version: int | None = None) -> bytes:
    """One framed response (size, response header, body) to the request `header` names.
    `version` overrides the body's version (ApiVersions answers an unsupported version in v0)."""
    cls = RESPONSES[header.api_key]
    version = header.api_version if version is None else version
    if (header.api_key, version) == (42, 3):
        return frame_flexible_response(header, _write_delete_groups_v3(body))
    version = schema_version(header.api_key, version)
    response = _build(cls, version, body) if isinstance(body, dict) else body
    payload = response.encode(version=version)
    # The response header is v1 (tagged fields) for flexible versions, except ApiVersions,
    # whose response header is always v0 so a client can read it before it knows versions.
    if header.api_key != 18 and cls.flexible_version_q(version):
        head = struct.pack(">iib", len(payload) + 5, header.correlation_id, 0)
    else:
        head = struct.pack(">ii", len(payload) + 4, header.correlation_id)
    return head + bytes(payload)


def oversized_produce(header: Header, head: bytes) -> tuple[int, list] | None:
    """A Produce too big to keep (over MAX_FRAME_BYTES), from its first bytes: (acks,
    [(topic name or None, topic id or None, [partition indexes])]) for the partitions whose
    entries begin within `head` (a partition's records are where the bytes go; the next
    entries lie past them, unread). None when even the first cannot be read."""
    flexible_ = header.api_version >= 9
    data, pos = head, header.body_offset
    acks, out = None, []

    def length(pos):  # a string's: compact (length + 1) in flexible versions, else int16
        if flexible_:
            n, pos = _uvarint(data, pos)
            return n - 1, pos
        return struct.unpack_from(">h", data, pos)[0], pos + 2

    def array_len(pos):
        if flexible_:
            n, pos = _uvarint(data, pos)
            return n - 1, pos
        return struct.unpack_from(">i", data, pos)[0], pos + 4

    try:
        n, pos = length(pos)
        pos += max(n, 0)                                  # transactional_id
        acks, _timeout = struct.unpack_from(">hi", data, pos)
        pos += 6
        topics_n, pos = array_len(pos)
        out = []
        for _ in range(max(topics_n, 0)):
            name = topic_id = None
            if header.api_version >= 13:
                topic_id = uuid.UUID(bytes=bytes(data[pos:pos + 16]))
                pos += 16
            else:
                n, pos = length(pos)
                name = bytes(data[pos:pos + n]).decode("utf-8")
                pos += n
            parts_n, pos = array_len(pos)
            indexes = []
            out.append((name, topic_id, indexes))
            for _ in range(max(parts_n, 0)):
                indexes.append(struct.unpack_from(">i", data, pos)[0])
                pos += 4
                if flexible_:
                    n, pos = _uvarint(data, pos)
                    n -= 1
                else:
                    n = struct.unpack_from(">i", data, pos)[0]
                    pos += 4
                pos += max(n, 0) + (1 if flexible_ else 0)  # records, tagged fields
                if pos > len(data):
                    return acks, out
            if flexible_:
                pos = _skip_tags(data, pos)
    except (struct.error, IndexError, UnicodeDecodeError, ValueError, FrameError):
        pass  # the head ended inside an entry: what was read is answered
    if acks is None or not any(indexes for _, _, indexes in out):
        return None
    return acks, out


def frame_flexible_response(header: Header, payload: bytes) -> bytes:
    """A response body encoded by hand (an API kafka-python has no schema of), framed with
    the flexible response header (v1: the correlation id and no tagged fields)."""
    return struct.pack(">iib", len(payload) + 5, header.correlation_id, 0) + payload


def _write_uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _write_delete_groups_v3(body: dict) -> bytes:
    """DeleteGroupsResponse v3: throttle_time_ms, results [group_id, error_code,
    error_message (new in v3)], all compact, tagged fields empty."""
    out = [struct.pack(">i", body["throttle_time_ms"]), _write_uvarint(len(body["results"]) + 1)]
    for r in body["results"]:
        out += [compact_string(r["group_id"]), struct.pack(">h", r["error_code"]),
                compact_string(r.get("error_message")), b"\x00"]
    out.append(b"\x00")
    return b"".join(out)


def compact_string(text: str | None) -> bytes:
    """A COMPACT_NULLABLE_STRING: unsigned varint of length + 1 (0: null), then UTF-8."""
    if text is None:
        return b"\x00"
    data = text.encode("utf-8")
    return _write_uvarint(len(data) + 1) + data


# -- keys, values and headers: wire bytes <-> model str -------------------------------------

_B64 = BYTES_MARK  # the model owns the convention (its record sizes count the bytes)


def to_model(data: bytes | None) -> str | None:
    if data is None:
        return None
    if type(data) is not bytes:
        data = bytes(data)
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return _escaped(data)
    # `text[:1] == "\x00"` first: a cheap no for almost every text (called twice per record)
    if text[:1] == "\x00" and text.startswith(_B64):
        return _escaped(data)
    return text


def _escaped(data: bytes) -> str:
    """Bytes that are not UTF-8 text, or text that looks like this escape, in the model."""
    return _B64 + base64.b64encode(data).decode("ascii")


def from_model(text: str | None) -> bytes | None:
    """The wire bytes of a model string; total: Fetch encodes every record the log holds,
    and records the page or the built-in producers wrote are any text at all. Only an escape
    `to_model` itself would write is decoded; other text that merely starts with the marker
    (typed in the page) goes out as its UTF-8, and lone surrogates (JSON allows them) as "?",
    as Java's String.getBytes(UTF_8) does."""
    if text is None:
        return None
    if text.startswith(_B64):
        try:
            data = base64.b64decode(text[len(_B64):], validate=True)
        except ValueError:  # binascii.Error, or non-ASCII text
            data = None
        if data is not None and to_model(data) == text:
            return data
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


# -- error codes ----------------------------------------------------------------------------

# Kafka's codes (org.apache.kafka.common.protocol.Errors) by the names the model and handlers use.
ERROR_CODES = {
    "UNKNOWN_SERVER_ERROR": -1, "NONE": 0, "OFFSET_OUT_OF_RANGE": 1, "CORRUPT_MESSAGE": 2,
    "UNKNOWN_TOPIC_OR_PARTITION": 3, "INVALID_FETCH_SIZE": 4, "LEADER_NOT_AVAILABLE": 5,
    "NOT_LEADER_OR_FOLLOWER": 6, "REQUEST_TIMED_OUT": 7, "BROKER_NOT_AVAILABLE": 8,
    "REPLICA_NOT_AVAILABLE": 9, "MESSAGE_TOO_LARGE": 10, "NETWORK_EXCEPTION": 13,
    "COORDINATOR_LOAD_IN_PROGRESS": 14, "COORDINATOR_NOT_AVAILABLE": 15, "NOT_COORDINATOR": 16,
    "INVALID_TOPIC_EXCEPTION": 17, "RECORD_LIST_TOO_LARGE": 18, "NOT_ENOUGH_REPLICAS": 19,
    "NOT_ENOUGH_REPLICAS_AFTER_APPEND": 20, "INVALID_REQUIRED_ACKS": 21,
    "ILLEGAL_GENERATION": 22, "INCONSISTENT_GROUP_PROTOCOL": 23, "INVALID_GROUP_ID": 24,
    "UNKNOWN_MEMBER_ID": 25, "INVALID_SESSION_TIMEOUT": 26, "REBALANCE_IN_PROGRESS": 27,
    "OFFSET_METADATA_TOO_LARGE": 12, "INVALID_COMMIT_OFFSET_SIZE": 28,
    "UNSUPPORTED_VERSION": 35, "TOPIC_ALREADY_EXISTS": 36,
    "INVALID_PARTITIONS": 37, "INVALID_REPLICATION_FACTOR": 38,
    "INVALID_REPLICA_ASSIGNMENT": 39, "INVALID_CONFIG": 40, "INVALID_REQUEST": 42,
    "POLICY_VIOLATION": 44, "OUT_OF_ORDER_SEQUENCE_NUMBER": 45,
    "DUPLICATE_SEQUENCE_NUMBER": 46, "INVALID_PRODUCER_EPOCH": 47, "INVALID_TXN_STATE": 48,
    "TRANSACTIONAL_ID_AUTHORIZATION_FAILED": 53, "UNKNOWN_PRODUCER_ID": 59,
    "NON_EMPTY_GROUP": 68, "GROUP_ID_NOT_FOUND": 69, "GROUP_SUBSCRIBED_TO_TOPIC": 86,
    "MISMATCHED_ENDPOINT_TYPE": 114, "FENCED_LEADER_EPOCH": 74, "UNKNOWN_LEADER_EPOCH": 75,
    "MEMBER_ID_REQUIRED": 79, "GROUP_MAX_SIZE_REACHED": 81, "FENCED_INSTANCE_ID": 82,
    "INVALID_RECORD": 87, "UNSTABLE_OFFSET_COMMIT": 88, "UNKNOWN_TOPIC_ID": 100,
}


def error_code(name: str | None) -> int:
    """Kafka's numeric code for an error name (the model speaks names: NOT_ENOUGH_REPLICAS)."""
    if name is None:
        return 0
    return ERROR_CODES.get(name, -1)


# -- record batches (v2) ---------------------------------------------------------------------

class CorruptBatch(Exception):
    """Records that are not valid record batches v2: the partition gets CORRUPT_MESSAGE."""

    error = "CORRUPT_MESSAGE"


class BatchTooLarge(CorruptBatch):
    """Compressed records that decompress past the request's budget (MAX_DECOMPRESSED_BYTES):
    refused whole with MESSAGE_TOO_LARGE, Kafka's answer to records larger than it accepts (a
    Java producer splits such a compressed batch and retries; a bomb stays refused)."""

    error = "MESSAGE_TOO_LARGE"


# What one Produce request's compressed batches may decompress to, all together: 64 times the
# largest request real clients send by default (1 MiB), and eight times the frame cap.
MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024


class Batch:
    __slots__ = ("producer_id", "producer_epoch", "base_sequence", "transactional", "records",
                 "inflated", "size")

    def __init__(self, producer_id, producer_epoch, base_sequence, transactional, records,
                 inflated=0, size=0):
        self.producer_id = producer_id
        self.producer_epoch = producer_epoch
        self.base_sequence = base_sequence
        self.transactional = transactional
        # [[key, value, headers, create time], ...] in the model's terms
        self.records = records
        self.inflated = inflated  # bytes its compressed records decompressed to (0: none)
        self.size = size  # bytes on the wire: what Kafka holds to max.message.bytes


_BATCH_HEADER = struct.Struct(">qiibIhiqqqhii")  # record batch v2 header: 61 bytes
_CRC_FROM = 21  # the CRC covers everything from the attributes on


def _varint(buf, pos: int) -> tuple[int, int]:
    """A zigzag varint (record fields); IndexError past the end."""
    b = buf[pos]
    pos += 1
    if b < 0x80:
        return (b >> 1) ^ -(b & 1), pos
    value = b & 0x7F
    shift = 7
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            # A 10th byte's bits past the 64th are dropped, as Java's ByteUtils.readVarlong
            # and aiokafka's reader drop them: a varlong is a Java long.
            value &= 0xFFFF_FFFF_FFFF_FFFF
            return (value >> 1) ^ -(value & 1), pos
        shift += 7
        if shift > 63:
            raise CorruptBatch("a varint is too long")


def _decompress(kind: int, data: bytes, limit: int) -> bytes:
    """A batch's records decompressed, never more than `limit` bytes of output (BatchTooLarge):
    a few KiB of gzip or zstd can expand to gigabytes, and kafka-python's decoders have no
    bound. Each codec stops at the bound itself, before allocating past it."""
    if kind == 1:
        return _gunzip(data, limit)
    if kind == 2:
        return _unsnappy(data, limit)
    if kind == 3:
        return _unlz4(data, limit)
    if kind == 4:
        return _unzstd(data, limit)
    raise CorruptBatch(f"unknown compression type {kind}")


def _too_large(limit: int) -> "BatchTooLarge":
    return BatchTooLarge(f"records decompress to more than {limit:,} bytes")


def _gunzip(data: bytes, limit: int) -> bytes:
    import zlib

    out = []
    size = 0
    while True:  # a gzip stream may hold several members, as GzipFile reads them
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        chunk = d.decompress(data, limit - size + 1)
        size += len(chunk)
        out.append(chunk)
        if size > limit:
            raise _too_large(limit)
        if not d.eof:
            raise CorruptBatch("a truncated gzip stream")
        data = d.unused_data
        if not data.strip(b"\x00"):  # GzipFile ignores trailing zero padding
            return b"".join(out)


def _unsnappy(data: bytes, limit: int) -> bytes:
    import snappy

    def block(raw: bytes) -> bytes:
        # Raw snappy begins with its uncompressed length (a varint): checked before allocating.
        try:
            length, _ = _uvarint(raw, 0)
        except FrameError:
            raise CorruptBatch("a snappy block without its length") from None
        nonlocal budget
        if length > budget:
            raise _too_large(limit)
        budget -= length
        return snappy.decompress(raw)

    budget = limit
    if len(data) > 16 and data[:8] == b"\x82SNAPPY\x00":
        # xerial framing (what Java's and kafka-python's producers write): int32-sized blocks
        out = []
        pos = 16
        while pos < len(data):
            if pos + 4 > len(data):
                raise CorruptBatch("a truncated xerial snappy block")
            (n,) = struct.unpack_from(">i", data, pos)
            if n < 0 or pos + 4 + n > len(data):
                raise CorruptBatch("a xerial snappy block runs past the records")
            out.append(block(data[pos + 4:pos + 4 + n]))
            pos += 4 + n
        return b"".join(out)
    return block(data)


def _unlz4(data: bytes, limit: int) -> bytes:
    import lz4.frame

    d = lz4.frame.LZ4FrameDecompressor()
    out = d.decompress(data, max_length=limit + 1)
    if len(out) > limit:
        raise _too_large(limit)
    if not d.eof:
        raise CorruptBatch("a truncated lz4 frame")
    return out


def _unzstd(data: bytes, limit: int) -> bytes:
    import io

    import zstandard

    out = []
    size = 0
    with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data),
                                                     read_across_frames=True) as reader:
        while True:
            chunk = reader.read(min(limit - size + 1, 1 << 20))
            if not chunk:
                return b"".join(out)
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            out.append(chunk)


def _records(buf: bytes, count: int, first_timestamp: int) -> list:
    """The records of a (decompressed) batch as model records with their create times, in pure
    Python: the reference `_c_records` is checked against (tests/kafka/test_record_parsing.py),
    the reader when aiokafka's Cython one is missing, and the judge of any batch that one
    refuses (its CorruptBatch messages are the listener's)."""
    out = []
    append = out.append
    pos = 0
    for _ in range(count):
        length, pos = _varint(buf, pos)
        end = pos + length
        # attributes (int8, unused), timestamp delta, offset delta (offsets are the log's)
        pos += 1
        delta = buf[pos]
        if delta < 0x80:
            delta = (delta >> 1) ^ -(delta & 1)
            pos += 1
        else:
            delta, pos = _varint(buf, pos)
        if buf[pos] < 0x80:
            pos += 1
        else:
            _, pos = _varint(buf, pos)
        n = buf[pos]
        if n < 0x80:
            n = (n >> 1) ^ -(n & 1)
            pos += 1
        else:
            n, pos = _varint(buf, pos)
        if n < 0:
            key = None
        else:
            key = to_model(buf[pos:pos + n])
            pos += n
        n = buf[pos]
        if n < 0x80:
            n = (n >> 1) ^ -(n & 1)
            pos += 1
        else:
            n, pos = _varint(buf, pos)
        if n < 0:
            value = None
        else:
            value = to_model(buf[pos:pos + n])
            pos += n
        count_h = buf[pos]
        if count_h < 0x80:
            count_h = (count_h >> 1) ^ -(count_h & 1)
            pos += 1
        else:
            count_h, pos = _varint(buf, pos)
        headers = None
        if count_h:
            if count_h < 0:
                raise CorruptBatch("a negative header count")
            pairs = []
            for _ in range(count_h):
                n, pos = _varint(buf, pos)
                if n < 0:
                    raise CorruptBatch("a header without a name")
                name = buf[pos:pos + n].decode("utf-8")
                pos += n
                n, pos = _varint(buf, pos)
                if n < 0:
                    pairs.append([name, None])
                else:
                    pairs.append([name, to_model(buf[pos:pos + n])])
                    pos += n
            headers = dict(pairs)
            if len(headers) < len(pairs):
                headers = pairs  # a name sent twice: Kafka keeps every header, in order
        if pos != end or pos > len(buf):
            raise CorruptBatch("a record's length does not match its fields")
        timestamp = first_timestamp + delta
        if not -_LONG <= timestamp < _LONG:
            # Java's long arithmetic (DefaultRecord.readFrom) and aiokafka's int64_t wrap
            timestamp = (timestamp + _LONG) % (2 * _LONG) - _LONG
        append((key, value, headers, timestamp))
    if pos != len(buf):
        raise CorruptBatch("bytes after a batch's last record")
    return out


_LONG = 2**63

# Zero bytes after the records handed to aiokafka's reader. It checks that a record field's
# first byte lies in the batch, not its last: a varint may run on past the batch's end, and
# inside a header list a second varint is read before it notices. A zero ends a varint, so
# these bytes keep every such read inside memory we own (a batch at the end of an allocation
# would otherwise be read past), and the reader then refuses the batch as it should.
_PAD = bytes(16)
_RECORD_FIELDS = operator.attrgetter("key", "value", "headers", "timestamp")


def _c_records(batch, count: int) -> list | None:
    """The records of an uncompressed v2 batch (`batch`: header and records, with `_PAD`
    after it in memory) as model records, read by aiokafka's Cython reader: ~4x faster than
    `_records`, which yields the same model records for every batch both accept. None when
    that reader refuses the batch, or reads a different count: `_records` then decides, so
    what is accepted, and the message of what is not, are the reference's. The caller has
    checked the header (61 bytes present, which this reader does not check; CRC; count) and
    cleared the attributes' compression and timestamp-type bits: decompression stays under
    our budget, and create times are the records' own.

    One known difference: a record's attributes are one byte whose bits Kafka leaves unused
    (every client writes 0); aiokafka reads a varint there, so a byte over 0x7f shifts its
    reading. Mostly that reading fails and `_records` decides; a record crafted to read
    validly both ways is kept as aiokafka reads it (well-formed model records either way, and
    only that client's own). Checking for it costs a length walk per record, ~+30%."""
    out = []
    append = out.append
    try:
        for key, value, headers, timestamp in map(_RECORD_FIELDS, _CBatch(batch)):
            # to_model, written out: twice per record, and a call costs as much as the work
            if key is not None:
                try:
                    text = key.decode()
                except UnicodeDecodeError:
                    key = _escaped(key)
                else:
                    key = _escaped(key) if text[:1] == "\x00" and text.startswith(_B64) \
                        else text
            if value is not None:
                try:
                    text = value.decode()
                except UnicodeDecodeError:
                    value = _escaped(value)
                else:
                    value = _escaped(value) if text[:1] == "\x00" and text.startswith(_B64) \
                        else text
            if headers:
                pairs = headers
                headers = {name: to_model(h) for name, h in pairs}
                if len(headers) < len(pairs):
                    # a name sent twice: Kafka keeps every header, in order
                    headers = [[name, to_model(h)] for name, h in pairs]
            else:
                headers = None
            append((key, value, headers, timestamp))
    except Exception:  # CorruptRecordException, UnicodeDecodeError (a header name), ...
        return None
    return out if len(out) == count else None


def read_batches(data, budget: int = MAX_DECOMPRESSED_BYTES) -> list[Batch]:
    """A Produce request's records, decompressed (gzip, snappy, lz4, zstd) and checked (CRC,
    lengths, counts), as model records ``(key, value, headers or None, create time)``.
    Compressed records may decompress to at most `budget` bytes in all (BatchTooLarge).
    Records are read by aiokafka's Cython reader when it is installed (`_c_records`), else
    by `_records`. Raises CorruptBatch."""
    from kafka.record.util import calc_crc32c

    if data is None:
        raise CorruptBatch("no records")
    data = bytes(data)
    padded = memoryview(data + _PAD) if _CBatch is not None else None
    batches = []
    pos = 0
    try:
        while pos < len(data):
            if len(data) - pos < _BATCH_HEADER.size:
                raise CorruptBatch("a truncated record batch")
            (_, length, _, magic, crc, attributes, _, first_timestamp, _, producer_id,
             producer_epoch, base_sequence, count) = _BATCH_HEADER.unpack_from(data, pos)
            end = pos + 12 + length
            if length < _BATCH_HEADER.size - 12 or end > len(data):
                raise CorruptBatch("a record batch's length runs past the records")
            if magic != 2:
                raise CorruptBatch(f"record batch magic {magic}; only v2 is accepted")
            if calc_crc32c(memoryview(data)[pos + _CRC_FROM:end]) != crc:
                raise CorruptBatch("a record batch's CRC does not match")
            if attributes & 0x20:
                raise CorruptBatch("clients do not send control batches")
            if count <= 0:
                raise CorruptBatch("an empty record batch")
            body = None
            inflated = 0
            if attributes & 0x07:
                body = _decompress(attributes & 0x07, data[pos + _BATCH_HEADER.size:end],
                                   budget)
                inflated = len(body)
                budget -= inflated
            records = None
            if padded is not None:
                if attributes & 0x0F:
                    # Compressed, or LogAppendTime set (aiokafka would give every record the
                    # batch's max timestamp): the same batch, uncompressed, attributes 0.
                    if body is None:
                        body = data[pos + _BATCH_HEADER.size:end]
                    batch = memoryview(b"".join((
                        data[pos:pos + 8], struct.pack(">i", _BATCH_HEADER.size - 12 + len(body)),
                        data[pos + 12:pos + 21], b"\x00\x00", data[pos + 23:pos + 61],
                        body, _PAD)))[:-len(_PAD)]
                else:
                    batch = padded[pos:end]
                records = _c_records(batch, count)
            if records is None:
                if body is None:
                    body = data[pos + _BATCH_HEADER.size:end]
                records = _records(body, count, first_timestamp)
            batches.append(Batch(producer_id, producer_epoch, base_sequence,
                                 bool(attributes & 0x10), Records(records), inflated, end - pos))
            pos = end
    except CorruptBatch:
        raise
    except Exception as e:  # IndexError past the end, codec errors, bad UTF-8 header names
        raise CorruptBatch(f"records do not decode: {type(e).__name__}: {e}") from None
    return batches


def _header_name(name: str) -> str:
    """A header name the builder can encode (it is UTF-8 on the wire; see from_model)."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return name.encode("utf-8", "replace").decode("utf-8")


def write_batch(records: list, leader_epoch: int, epoch_ms: int,
                create_times: list | None = None) -> bytes:
    """One uncompressed record batch v2 of model records ``(offset, key, value, headers,
    timestamp_ms)`` with consecutive offsets. A record's timestamp is its client's create
    time (`create_times`, one per record or None) when it has one, as Kafka keeps it, else
    its model time + `epoch_ms`."""
    from kafka.record.default_records import DefaultRecordBatchBuilder

    base = records[0][0]
    builder = DefaultRecordBatchBuilder(2, 0, False, -1, -1, -1, 2**31 - 1)
    append = builder.append
    stamps = iter(create_times) if create_times is not None else None
    for offset, key, value, headers, ts in records:
        created = next(stamps) if stamps is not None else None
        append(offset - base, ts + epoch_ms if created is None else created,
               from_model(key), from_model(value),
               [(_header_name(n), from_model(h)) for n, h in header_pairs(headers)]
               if headers else [])
    buf = builder.build()
    struct.pack_into(">q", buf, 0, base)  # base offset and leader epoch: outside the CRC
    struct.pack_into(">i", buf, 12, leader_epoch)
    return bytes(buf)
