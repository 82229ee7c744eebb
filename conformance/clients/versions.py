"""Conformance checks for API versions, with raw sockets (no client library): what a broker
advertises in ApiVersions, and what it does with a request at a version it does not serve, with
a frame over socket.request.max.bytes and with a record over message.max.bytes.

    python -m conformance.clients.versions --bootstrap HOST:PORT --prefix PREFIX [--only X]

Checks, in this order (one JSON line each, the contract's format):
- `versions.advertised.<Api>` for every API Kafka 4.x advertises (`KAFKA_APIS`) or the broker
  does: {"min": m, "max": M} or "absent". Asked with ApiVersions v3 (client software name and
  version, KIP-511); v0 when v3 is answered UNSUPPORTED_VERSION.
- `versions.apiversions_unsupported`: ApiVersions v99 (KIP-511: Kafka answers in v0 with
  UNSUPPORTED_VERSION and its own ApiVersions range).
- `versions.below_floor.<Api>` (the version just below the lowest one Kafka 4.x serves, for
  each API whose floor is above 0) and `versions.above_max.<Api>` (Kafka 4.x's max + 1), each on
  a fresh connection: a request header at that version (v2 where the version would be flexible,
  v1 otherwise) and a body of `PROBE_BODY` zero bytes. {"version": v, "answer": ...} where the
  answer is the Kafka error name of the top-level (else first) error_code the response has,
  "unparsed", "connection closed" or "no answer" (nothing within `ANSWER_S`). The versions
  come from Kafka's table, not the broker's, so both runs send the same bytes; an API the broker
  does not advertise at all is skipped (its versions.advertised line already shows it).
- `versions.unknown_api`: the same probe with an API key no Kafka has (`UNKNOWN_API_KEY`).
- `versions.request_too_large`: a frame declaring socket.request.max.bytes + 1 bytes, then only
  a header: does the broker close without waiting for the body?
- `versions.big_produce`: a Produce (v7, acks=-1) of one record whose value is
  `BIG_VALUE_BYTES` to the leader of a fresh topic PREFIX-big: the answer, and whether the
  connection still answers afterwards.

Kafka's table is Kafka 4.4.0's broker listener as its ApiVersions v3 answered (a KRaft combined
node, conformance.kafka.RealKafka); names and flexible versions are its ApiKeys. Where
kafka-python (in the venv) knows a response schema, answers are decoded with it.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

import kafka.errors
from kafka.protocol import admin as _admin  # noqa: F401  (registers the admin API classes)
from kafka.protocol import consumer as _consumer  # noqa: F401
from kafka.protocol import metadata as _metadata  # noqa: F401
from kafka.protocol import producer as _producer  # noqa: F401
from kafka.record.default_records import DefaultRecordBatchBuilder

from conformance.clients.common import log
from playground.kafka import codec

CLIENT_ID = b"conformance-versions"
# KIP-511: ApiVersions v3+ carries the client's software name and version; Kafka checks both
# against [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?.
SOFTWARE = (b"conformance-versions", b"1.0")
# How long a probe waits for an answer or the close of its connection.
ANSWER_S = 5.0
# How long the big produce waits: 9 MiB over loopback, then the broker's write path.
BIG_ANSWER_S = 15.0
# The probes' body: a few zero bytes, which no broker should get as far as decoding.
PROBE_BODY = bytes(8)
# Probes at the same time, each on its own connection (the playground allows 64 per address,
# Kafka's max.connections.per.ip is unbounded): a broker that never answers costs ANSWER_S per
# round, not per probe.
PARALLEL = 8
# Kafka's socket.request.max.bytes default (100 MiB): one byte more must be refused unread.
SOCKET_REQUEST_MAX_BYTES = 100 * 1024 * 1024
# Over Kafka's message.max.bytes default (1 MiB + 12) and over the playground's 8 MiB frame
# limit, under socket.request.max.bytes: Kafka reads it and answers MESSAGE_TOO_LARGE.
BIG_VALUE_BYTES = 9 * 1024 * 1024
# How long the big produce waits for PREFIX-big to have a leader in metadata.
TOPIC_READY_S = 20.0

# API key -> (name, min, max, first flexible version or None): what Kafka 4.4.0's broker
# listener advertises in ApiVersions v3 (keys 4-7 were removed by KIP-896; the controller-only
# APIs are not on the broker listener).
KAFKA_APIS: dict[int, tuple[str, int, int, int | None]] = {
    0: ("Produce", 0, 13, 9),
    1: ("Fetch", 4, 18, 12),
    2: ("ListOffsets", 1, 11, 6),
    3: ("Metadata", 0, 13, 9),
    8: ("OffsetCommit", 2, 10, 8),
    9: ("OffsetFetch", 1, 10, 6),
    10: ("FindCoordinator", 0, 6, 3),
    11: ("JoinGroup", 0, 9, 6),
    12: ("Heartbeat", 0, 4, 4),
    13: ("LeaveGroup", 0, 5, 4),
    14: ("SyncGroup", 0, 5, 4),
    15: ("DescribeGroups", 0, 6, 5),
    16: ("ListGroups", 0, 5, 3),
    17: ("SaslHandshake", 0, 1, None),
    18: ("ApiVersions", 0, 5, 3),
    19: ("CreateTopics", 2, 7, 5),
    20: ("DeleteTopics", 1, 6, 4),
    21: ("DeleteRecords", 0, 2, 2),
    22: ("InitProducerId", 0, 5, 2),
    23: ("OffsetForLeaderEpoch", 2, 4, 4),
    24: ("AddPartitionsToTxn", 0, 5, 3),
    25: ("AddOffsetsToTxn", 0, 4, 3),
    26: ("EndTxn", 0, 5, 3),
    27: ("WriteTxnMarkers", 1, 2, 0),
    28: ("TxnOffsetCommit", 0, 6, 3),
    29: ("DescribeAcls", 1, 3, 2),
    30: ("CreateAcls", 1, 3, 2),
    31: ("DeleteAcls", 1, 3, 2),
    32: ("DescribeConfigs", 1, 4, 4),
    33: ("AlterConfigs", 0, 2, 2),
    34: ("AlterReplicaLogDirs", 1, 2, 2),
    35: ("DescribeLogDirs", 1, 5, 2),
    36: ("SaslAuthenticate", 0, 2, 2),
    37: ("CreatePartitions", 0, 3, 2),
    38: ("CreateDelegationToken", 1, 3, 2),
    39: ("RenewDelegationToken", 1, 2, 2),
    40: ("ExpireDelegationToken", 1, 2, 2),
    41: ("DescribeDelegationToken", 1, 3, 2),
    42: ("DeleteGroups", 0, 3, 2),
    43: ("ElectLeaders", 0, 2, 2),
    44: ("IncrementalAlterConfigs", 0, 1, 1),
    45: ("AlterPartitionReassignments", 0, 1, 0),
    46: ("ListPartitionReassignments", 0, 0, 0),
    47: ("OffsetDelete", 0, 0, None),
    48: ("DescribeClientQuotas", 0, 1, 1),
    49: ("AlterClientQuotas", 0, 1, 1),
    50: ("DescribeUserScramCredentials", 0, 0, 0),
    51: ("AlterUserScramCredentials", 0, 0, 0),
    55: ("DescribeQuorum", 0, 2, 0),
    57: ("UpdateFeatures", 0, 2, 0),
    60: ("DescribeCluster", 0, 2, 0),
    61: ("DescribeProducers", 0, 0, 0),
    64: ("UnregisterBroker", 0, 0, 0),
    65: ("DescribeTransactions", 0, 0, 0),
    66: ("ListTransactions", 0, 2, 0),
    68: ("ConsumerGroupHeartbeat", 0, 1, 0),
    69: ("ConsumerGroupDescribe", 0, 1, 0),
    74: ("ListConfigResources", 0, 1, 0),
    75: ("DescribeTopicPartitions", 0, 0, 0),
    76: ("ShareGroupHeartbeat", 1, 1, 0),
    77: ("ShareGroupDescribe", 1, 1, 0),
    78: ("ShareFetch", 1, 2, 0),
    79: ("ShareAcknowledge", 1, 2, 0),
    80: ("AddRaftVoter", 0, 1, 0),
    81: ("RemoveRaftVoter", 0, 0, 0),
    83: ("InitializeShareGroupState", 0, 0, 0),
    84: ("ReadShareGroupState", 0, 0, 0),
    85: ("WriteShareGroupState", 0, 1, 0),
    86: ("DeleteShareGroupState", 0, 0, 0),
    87: ("ReadShareGroupStateSummary", 0, 1, 0),
    88: ("StreamsGroupHeartbeat", 0, 1, 0),
    89: ("StreamsGroupDescribe", 0, 1, 0),
    90: ("DescribeShareGroupOffsets", 0, 1, 0),
    91: ("AlterShareGroupOffsets", 0, 0, 0),
    92: ("DeleteShareGroupOffsets", 0, 0, 0),
    93: ("StreamsGroupTopologyDescriptionUpdate", 0, 0, 0),
    94: ("UnregisterController", 0, 0, 0),
}
# Kafka 4.x advertises Produce from v0 (KAFKA-18659: librdkafka decides whether it may compress
# by looking for Produce v0 in the range) but serves it only from v3 (KIP-896): the floor a
# below_floor probe tests is the served one.
SERVED_FLOOR = {0: 3}

# Kafka's Errors names: the listener's own table (codec.ERROR_CODES), and those newer than
# kafka-python knows; any other code by kafka-python's name for it.
KAFKA_ERROR_NAMES = {
    **{code: name for name, code in codec.ERROR_CODES.items()},
    128: "INVALID_REGULAR_EXPRESSION", 129: "REBOOTSTRAP_REQUIRED",
    130: "STREAMS_INVALID_TOPOLOGY", 131: "STREAMS_INVALID_TOPOLOGY_EPOCH",
    132: "STREAMS_TOPOLOGY_FENCED", 133: "SHARE_SESSION_LIMIT_REACHED",
    134: "GROUP_DELETION_FAILED", 135: "STREAMS_TOPOLOGY_DESCRIPTION_UPDATE_FAILED",
    136: "CONTROLLER_ID_NOT_REGISTERED",
}
UNSUPPORTED_VERSION = 35
# An API key no Kafka has (4.4.0's highest is 94): what a broker does with an API it does not
# know at all, as an API the playground does not advertise is for it.
UNKNOWN_API_KEY = 1000


def error_name(code: int) -> str:
    if code in KAFKA_ERROR_NAMES:
        return KAFKA_ERROR_NAMES[code]
    message = getattr(kafka.errors.for_code(code), "message", None)
    return message if message and message != "UNKNOWN" else f"ERROR_{code}"


# kafka-python's generated protocol classes by API key, as the listener's codec finds them.
REQUESTS, RESPONSES = codec.REQUESTS, codec.RESPONSES


def api_name(key: int) -> str:
    """Kafka's name of an API key: Kafka 4.4.0's table, else kafka-python's class name."""
    if key in KAFKA_APIS:
        return KAFKA_APIS[key][0]
    cls = REQUESTS.get(key)
    if cls is not None and cls.__name__.endswith("Request"):
        return cls.__name__[:-len("Request")]
    return f"ApiKey{key}"


def flexible(key: int, version: int) -> bool:
    """Whether `version` of API `key` would be flexible (KIP-482: request header v2)."""
    if key in KAFKA_APIS:
        first = KAFKA_APIS[key][3]
        return first is not None and version >= first
    cls = REQUESTS.get(key)
    if cls is None:
        return False
    return bool(cls.flexible_version_q(min(max(version, cls.min_version), cls.max_version)))


# -- the wire -------------------------------------------------------------------------------------

def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def skip_tags(data: bytes, pos: int) -> int:
    """Past a tagged-fields section (KIP-482): a count, then each tag and its sized value."""
    count, pos = read_uvarint(data, pos)
    for _ in range(count):
        _, pos = read_uvarint(data, pos)
        size, pos = read_uvarint(data, pos)
        pos += size
    return pos


def compact_string(b: bytes) -> bytes:
    return uvarint(len(b) + 1) + b


def string(b: bytes) -> bytes:
    return struct.pack(">h", len(b)) + b


def request_header(key: int, version: int, correlation_id: int) -> bytes:
    """Header v1 (api_key, api_version, correlation_id, client_id), plus empty tagged fields
    (header v2) when the version would be flexible."""
    head = struct.pack(">hhi", key, version, correlation_id) + string(CLIENT_ID)
    return head + (b"\x00" if flexible(key, version) else b"")


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def host_port(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.rpartition(":")
    return host, int(port)


def connect(address: tuple[str, int]) -> socket.socket:
    return socket.create_connection(address, timeout=ANSWER_S)


class Closed(Exception):
    """The broker closed the connection (EOF or reset)."""


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        try:
            chunk = sock.recv(min(n - len(buf), 1 << 20))
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as e:
            raise Closed(str(e)) from e
        if not chunk:
            raise Closed("EOF")
        buf += chunk
    return bytes(buf)


def read_response(sock: socket.socket, timeout: float) -> bytes:
    """One response frame without its size prefix. Raises Closed, or TimeoutError when
    nothing complete came within `timeout`."""
    sock.settimeout(timeout)  # a socket timeout is a TimeoutError
    size = struct.unpack(">i", recv_exactly(sock, 4))[0]
    return recv_exactly(sock, size)


def exchange(sock: socket.socket, payload: bytes, timeout: float = ANSWER_S) -> str | bytes:
    """Sends one frame and reads one response: the response bytes, or "connection closed" /
    "no answer"."""
    try:
        sock.sendall(frame(payload))
    except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
        return "connection closed"
    try:
        return read_response(sock, timeout)
    except Closed:
        return "connection closed"
    except TimeoutError:
        return "no answer"


def first_error_code(value) -> int | None:
    """The top-level error_code of a decoded response (a dict), else the first one found
    depth-first in field order."""
    if isinstance(value, dict):
        if isinstance(value.get("error_code"), int):
            return value["error_code"]
        values = list(value.values())
    elif isinstance(value, list | tuple):
        values = list(value)
    else:
        return None
    for v in values:
        code = first_error_code(v)
        if code is not None:
            return code
    return None


def answer_of(key: int, version: int, response: bytes) -> str:
    """The Kafka error name a response carries, or "unparsed"."""
    if len(response) < 4:
        return "unparsed"
    body = response[4:]  # past the correlation id
    if key == 18:
        # ApiVersions: response header v0 whatever the version, error_code first in every
        # version (and an UNSUPPORTED_VERSION answer is v0).
        return error_name(struct.unpack(">h", body[:2])[0]) if len(body) >= 2 else "unparsed"
    cls = RESPONSES.get(key)
    if cls is None:
        return "unparsed"
    low, high = cls.min_version, cls.max_version
    # The version asked first; a broker answering a version it does not serve may use its
    # nearest one.
    for v in dict.fromkeys((version, min(max(version, low), high), low, high)):
        if not low <= v <= high:
            continue
        try:
            pos = 0
            if cls.flexible_version_q(v):  # response header v1: skip its tagged fields
                pos = skip_tags(body, pos)
            decoded = cls.decode(body[pos:], version=v)
        except Exception:  # noqa: BLE001 - any bytes kafka-python cannot read are "unparsed"
            continue
        code = first_error_code(decoded.to_dict())
        if code is not None:
            return error_name(code)
    return "unparsed"


# -- ApiVersions ----------------------------------------------------------------------------------

def parse_api_versions(body: bytes, version: int) -> tuple[int, dict[int, tuple[int, int]]]:
    """(error_code, {api_key: (min, max)}) of an ApiVersions response body (after the
    correlation id). An UNSUPPORTED_VERSION answer is always v0 (KIP-511)."""
    code = struct.unpack(">h", body[:2])[0]
    pos = 2
    ranges = {}
    if version >= 3 and code != UNSUPPORTED_VERSION:
        n, pos = read_uvarint(body, pos)
        for _ in range(n - 1):
            key, low, high = struct.unpack(">hhh", body[pos:pos + 6])
            pos += 6
            pos = skip_tags(body, pos)
            ranges[key] = (low, high)
    else:
        n = struct.unpack(">i", body[pos:pos + 4])[0]
        pos += 4
        for _ in range(max(n, 0)):
            key, low, high = struct.unpack(">hhh", body[pos:pos + 6])
            pos += 6
            ranges[key] = (low, high)
    return code, ranges


def api_versions_request(version: int, correlation_id: int) -> bytes:
    head = struct.pack(">hhi", 18, version, correlation_id) + string(CLIENT_ID)
    if version >= 3:
        return head + b"\x00" + b"".join(compact_string(s) for s in SOFTWARE) + b"\x00"
    return head


def ask_api_versions(address, version: int) -> tuple[int, dict[int, tuple[int, int]]]:
    with connect(address) as sock:
        answer = exchange(sock, api_versions_request(version, 1))
    if isinstance(answer, str):
        raise ConnectionError(f"ApiVersions v{version}: {answer}")
    return parse_api_versions(answer[4:], version)


def advertisement(address) -> tuple[int, dict[int, tuple[int, int]]]:
    """(the ApiVersions version that answered, {api_key: (min, max)})."""
    code, ranges = ask_api_versions(address, 3)
    if code == UNSUPPORTED_VERSION:
        code, ranges = ask_api_versions(address, 0)
        version = 0
    else:
        version = 3
    if code != 0:
        raise RuntimeError(f"ApiVersions v{version} answered {error_name(code)}")
    return version, ranges


# -- the probes -----------------------------------------------------------------------------------

def probe(address, key: int, version: int, body: bytes = PROBE_BODY) -> dict:
    try:
        sock = connect(address)
    except OSError as e:
        return {"version": version, "answer": f"cannot connect: {type(e).__name__}"}
    with sock:
        answer = exchange(sock, request_header(key, version, 7) + body)
    if isinstance(answer, bytes):
        answer = answer_of(key, version, answer)
    return {"version": version, "answer": answer}


def request_too_large(address) -> dict:
    """Declares one byte over socket.request.max.bytes and sends only a header: a broker that
    refuses the size closes at once, one that waits for the body says nothing."""
    with connect(address) as sock:
        sock.sendall(struct.pack(">i", SOCKET_REQUEST_MAX_BYTES + 1)
                     + api_versions_request(0, 9))
        try:
            data = read_response(sock, ANSWER_S)
        except Closed:
            return {"declared": SOCKET_REQUEST_MAX_BYTES + 1, "answer": "connection closed"}
        except TimeoutError:
            return {"declared": SOCKET_REQUEST_MAX_BYTES + 1, "answer": "no answer"}
    return {"declared": SOCKET_REQUEST_MAX_BYTES + 1, "answer": answer_of(18, 0, data)}


def create_topic(address, name: str) -> str:
    """CreateTopics v4 (1 partition, replication factor 1): the topic's error name."""
    body = (struct.pack(">i", 1) + string(name.encode()) + struct.pack(">ihii", 1, 1, 0, 0)
            + struct.pack(">ib", 30_000, 0))
    with connect(address) as sock:
        answer = exchange(sock, request_header(19, 4, 3) + body, timeout=TOPIC_READY_S)
    if isinstance(answer, str):
        raise ConnectionError(f"CreateTopics: {answer}")
    return answer_of(19, 4, answer)


def leader_address(address, topic: str) -> tuple[str, int] | None:
    """Host and port of partition 0's leader in Metadata v1, or None while it has none."""
    body = struct.pack(">i", 1) + string(topic.encode())
    with connect(address) as sock:
        answer = exchange(sock, request_header(3, 1, 4) + body)
    if isinstance(answer, str):
        return None
    data, pos = answer, 4
    brokers = {}
    (n,) = struct.unpack_from(">i", data, pos)
    pos += 4
    for _ in range(n):
        node, hlen = struct.unpack_from(">ih", data, pos)
        pos += 6
        host = data[pos:pos + hlen].decode()
        pos += hlen
        (port, rlen) = struct.unpack_from(">ih", data, pos)
        pos += 6 + max(rlen, 0)
        brokers[node] = (host, port)
    pos += 4  # controller id
    (n,) = struct.unpack_from(">i", data, pos)
    pos += 4
    for _ in range(n):
        code, tlen = struct.unpack_from(">hh", data, pos)
        pos += 4 + tlen + 1  # name, is_internal
        (parts,) = struct.unpack_from(">i", data, pos)
        pos += 4
        for _ in range(parts):
            pcode, index, leader = struct.unpack_from(">hii", data, pos)
            pos += 10
            for _ in range(2):  # replicas, isr
                (m,) = struct.unpack_from(">i", data, pos)
                pos += 4 + 4 * max(m, 0)
            if code == 0 and pcode == 0 and index == 0 and leader in brokers:
                return brokers[leader]
    return None


def big_produce(address, prefix: str) -> dict:
    topic = f"{prefix}-big"
    created = create_topic(address, topic)
    if created not in ("NONE", "TOPIC_ALREADY_EXISTS"):
        raise RuntimeError(f"CreateTopics {topic}: {created}")
    deadline = time.monotonic() + TOPIC_READY_S
    leader = leader_address(address, topic)
    while leader is None and time.monotonic() < deadline:
        time.sleep(0.2)
        leader = leader_address(address, topic)
    if leader is None:
        raise RuntimeError(f"{topic} has no leader after {TOPIC_READY_S} s")
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                        batch_size=BIG_VALUE_BYTES * 2)
    builder.append(0, int(time.time() * 1000), None, b"x" * BIG_VALUE_BYTES, [])
    batch = bytes(builder.build())
    # Produce v7 (not flexible): transactional_id null, acks -1, timeout, one topic, one
    # partition, its records.
    body = (struct.pack(">hhi", -1, -1, 10_000) + struct.pack(">i", 1) + string(topic.encode())
            + struct.pack(">iii", 1, 0, len(batch)) + batch)
    with socket.create_connection(leader, timeout=BIG_ANSWER_S) as sock:
        answer = exchange(sock, request_header(0, 7, 5) + body, timeout=BIG_ANSWER_S)
        if isinstance(answer, bytes):
            answer = answer_of(0, 7, answer)
        after = "connection closed"
        if answer != "connection closed":
            # Does the same connection still serve a request (Kafka answers a refused
            # produce and keeps the connection)?
            again = exchange(sock, api_versions_request(0, 6))
            after = again if isinstance(again, str) else "answers"
    return {"answer": answer, "connection_after": after}


# -- the checks -----------------------------------------------------------------------------------

def emit(check: str, run) -> None:
    started = time.monotonic()
    try:
        line = {"check": check, "observed": run()}
    except Exception as e:  # noqa: BLE001 - every failure is an observation to report
        log(f"[versions] {check} raised:")
        traceback.print_exc(file=sys.stderr)
        line = {"check": check, "error": type(e).__name__, "detail": str(e)[:300]}
    log(f"[versions] {check}: {time.monotonic() - started:.2f}s")
    print(json.dumps(line, sort_keys=True), flush=True)


def emit_line(line: dict) -> None:
    print(json.dumps(line, sort_keys=True), flush=True)


def probes(advertised: dict | None, failure: str) -> list[tuple[str, int, int]]:
    """(check, api_key, version) of every below_floor and above_max probe, in order."""
    keys = sorted(set(KAFKA_APIS) | set(advertised or {}))
    below, above = [], []
    for key in keys:
        if key in KAFKA_APIS:
            low, high = SERVED_FLOOR.get(key, KAFKA_APIS[key][1]), KAFKA_APIS[key][2]
        else:
            low, high = advertised[key]
        name = api_name(key)
        if low > 0:
            below.append((f"versions.below_floor.{name}", key, low - 1))
        above.append((f"versions.above_max.{name}", key, high + 1))
    return below + above


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Conformance checks for API versions "
                                                 "(raw sockets)")
    parser.add_argument("--bootstrap", required=True, help="HOST:PORT of a broker")
    parser.add_argument("--prefix", required=True,
                        help="every topic this run creates starts with it")
    parser.add_argument("--only", default="", help="run only checks starting with this")
    args = parser.parse_args(argv)
    address = host_port(args.bootstrap)
    wanted = args.only

    t0 = time.monotonic()
    advertised, failure = None, ""
    try:
        asked_with, advertised = advertisement(address)
        log(f"[versions] ApiVersions v{asked_with}: {len(advertised)} APIs advertised")
    except Exception as e:  # noqa: BLE001 - reported on every line that needed it
        traceback.print_exc(file=sys.stderr)
        failure = f"{type(e).__name__}: {e}"

    for key in sorted(set(KAFKA_APIS) | set(advertised or {})):
        check = f"versions.advertised.{api_name(key)}"
        if not check.startswith(wanted):
            continue
        if advertised is None:
            emit_line({"check": check, "error": "ApiVersions", "detail": failure[:300]})
        elif key in advertised:
            emit_line({"check": check, "observed": {"min": advertised[key][0],
                                                     "max": advertised[key][1]}})
        else:
            emit_line({"check": check, "observed": "absent"})

    if "versions.apiversions_unsupported".startswith(wanted):
        def unsupported():
            with connect(address) as sock:
                answer = exchange(sock, api_versions_request(99, 8))
            if isinstance(answer, str):
                return {"answer": answer}
            code, ranges = parse_api_versions(answer[4:], 0)
            return {"answer": error_name(code),
                    "ranges": {api_name(k): {"min": lo, "max": hi}
                               for k, (lo, hi) in sorted(ranges.items())}}
        emit("versions.apiversions_unsupported", unsupported)

    todo = [p for p in probes(advertised, failure) if p[0].startswith(wanted)]
    if todo:
        started = time.monotonic()

        def one(item):
            check, key, version = item
            if advertised is None:
                return {"check": check, "error": "ApiVersions", "detail": failure[:300]}
            if key not in advertised:
                return {"check": check, "skip": f"the broker does not advertise {api_name(key)} "
                                                 f"(key {key})"}
            try:
                return {"check": check, "observed": probe(address, key, version)}
            except Exception as e:  # noqa: BLE001
                return {"check": check, "error": type(e).__name__, "detail": str(e)[:300]}

        with ThreadPoolExecutor(PARALLEL) as pool:
            for line in pool.map(one, todo):
                emit_line(line)
        log(f"[versions] {len(todo)} version probes: {time.monotonic() - started:.2f}s")

    if "versions.unknown_api".startswith(wanted):
        emit("versions.unknown_api", lambda: {"api_key": UNKNOWN_API_KEY,
                                              **probe(address, UNKNOWN_API_KEY, 0)})
    if "versions.request_too_large".startswith(wanted):
        emit("versions.request_too_large", lambda: request_too_large(address))
    if "versions.big_produce".startswith(wanted):
        emit("versions.big_produce", lambda: big_produce(address, args.prefix))
    log(f"[versions] done in {time.monotonic() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
