"""The listener under structured fuzz: every supported (api_key, version) with well-formed
headers and random bodies, requests built field by field from Kafka's schemas with random
values (group APIs with random and real member ids, generations and assignments), mutated
copies of those, while brokers stop and start. Every connection may be answered or closed;
the listener, a steady connection and the room go on, and the room's invariants hold
(EventChecker over every event, ownership in Stable groups, an exact replay), and no handler
ever fails on a request that decodes (that would close the client's connection instead of
answering it with Kafka's error).

FUZZ_SEED=<n> runs another seed (try a few after changing a handler)."""

import os
import random
import socket
import struct
import time
import uuid

from broker_core.checkers import EventChecker
from playground.kafka import codec, codec_groups
from playground.kafka.handlers import HANDLERS
from playground.kafka.server import LIVE_SPEC
from tests.kafka.conftest import Live
from tests.kafka.test_codec import build
from tests.kafka.test_failures import api_versions_request, read_frame
from tests.kafka.test_roundtrip import replays_exactly

TOPICS = ["f", "g2", "ghost", ""]
GROUPS = ["fuzz", "fuzz-2", ""]
GROUP_APIS = {8, 9, 11, 12, 13, 14}
INT_RANGES = {"int8": 7, "int16": 15, "int32": 31, "int64": 63}


class Values:
    """Random field values, biased towards the ones that reach deep into the handlers."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.member_ids = ["", "nobody", "fuzz-00000000-0000-0000-0000-000000000000"]
        self.generation = 0
        self.api = None  # the API a request is being made for

    def integer(self, name: str, bits: int) -> int:
        rng = self.rng
        if name.endswith("_ms"):
            return rng.choice([-1, 0, 1, 50, 6_000, 6_000, 30_000, 2**bits - 1])
        if "generation" in name or "epoch" in name:
            return rng.choice([-1, 0, 1, 2, 3, 2**bits - 1])
        if name in ("partition", "partition_index", "index", "num_partitions"):
            return rng.choice([-1, 0, 1, 2, 0, 1, 2, 5])
        if name == "acks":
            return rng.choice([-1, 0, 1, 2])
        if rng.random() < 0.6:
            return rng.choice([-2, -1, 0, 1, 2, 3])
        return rng.randrange(-2**bits, 2**bits)

    def string(self, name: str) -> str:
        rng = self.rng
        if "member_id" in name:
            return rng.choice(self.member_ids)
        if "group" in name or name == "key":
            return rng.choice(GROUPS[:1] * 4 + GROUPS)
        if "topic" in name or name == "name":
            if self.api == 20:  # DeleteTopics: "f" stays, for records to land in
                return rng.choice(TOPICS[1:])
            return rng.choice(TOPICS[:1] * 4 + TOPICS)
        if name == "protocol_type":
            return rng.choice(["consumer", "connect", ""])
        if "protocol" in name or name == "assignor":
            return rng.choice(["range", "roundrobin", "x"])
        return "".join(rng.choice("ab\x00é-") for _ in range(rng.randrange(0, 6)))

    def raw(self, name: str) -> bytes:
        rng = self.rng
        pick = rng.random()
        if "metadata" in name and pick < 0.5:
            return codec_groups.encode_subscription(rng.sample(["f", "g2", "ghost"], 2))
        if "assignment" in name and pick < 0.5:
            return codec_groups.encode_assignment(
                [(rng.choice(["f", "ghost"]), rng.randrange(-1, 4)) for _ in range(3)])
        return rng.randbytes(rng.randrange(0, 24))

    def records(self) -> bytes | None:
        rng = self.rng
        pick = rng.random()
        if pick < 0.1:
            return None
        if pick < 0.7:
            producer = (rng.choice([-1, 0, 1]), rng.choice([-1, 0]), rng.choice([-1, 0, 5]))
            if producer[0] < 0:
                producer = (-1, -1, -1)
            return build([(b"k", b"v%d" % i, []) for i in range(rng.randrange(1, 4))],
                         rng.choice([0, 0, 1, 4]), producer=producer)
        return rng.randbytes(rng.randrange(0, 80))

    def field(self, field, version: int):
        rng = self.rng
        if field.nullable_for_version_q(version) and rng.random() < (
                0.8 if field.name in ("transactional_id", "group_instance_id") else 0.1):
            return None
        kind = field.type_str
        if field.is_struct_array():
            return [self.struct(field.data_class, version) for _ in range(rng.randrange(0, 3))]
        if field.is_struct():
            return self.struct(field.data_class, version)
        if kind.startswith("[]"):
            inner = kind[2:]
            return [self.scalar(inner, field.name) for _ in range(rng.randrange(0, 3))]
        return self.scalar(kind, field.name)

    def scalar(self, kind: str, name: str):
        rng = self.rng
        if kind in INT_RANGES:
            return self.integer(name, INT_RANGES[kind])
        if kind in ("uint16",):
            return rng.randrange(0, 2**16)
        if kind == "bool":
            return rng.random() < 0.5
        if kind == "string":
            return self.string(name)
        if kind == "bytes":
            return self.raw(name)
        if kind == "records":
            return self.records()
        if kind == "uuid":
            return uuid.UUID(int=rng.choice([0, 1, rng.getrandbits(128)]))
        if kind == "float64":
            return rng.random()
        raise AssertionError(f"no values for {kind}")

    def struct(self, data_class, version: int) -> dict:
        return {name: self.field(f, version) for name, f in data_class._struct.fields.items()
                if f.for_version_q(version)}


def frame_of(api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    head = struct.pack(">hhih", api_key, version, correlation_id, 4) + b"fuzz"
    if codec.flexible(api_key, version):
        head += b"\x00"
    return struct.pack(">i", len(head) + len(body)) + head + body


def structured(values: Values, api_key: int, version: int) -> bytes | None:
    cls = codec.REQUESTS.get(api_key)
    if cls is None:
        return None  # an API answered without decoding (unmodelled.py): random bytes only
    values.api = api_key
    try:
        request = codec._build(cls, version, values.struct(cls, version))
        return bytes(request.encode(version=version))
    except Exception:  # a value kafka-python will not encode (out of its type's range)
        return None


class Client:
    """Connections to the brokers, reopened as they close."""

    def __init__(self, live: Live):
        self.live = live
        self.socks: dict[int, socket.socket] = {}
        self.answered = self.dropped = 0

    def send(self, broker: int, data: bytes, wait: float = 0.5,
             answered: bool = True) -> bytes | None:
        sock = self.socks.get(broker)
        if sock is None:
            try:
                sock = socket.create_connection(("127.0.0.1", self.live.port + broker - 1),
                                                timeout=2)
            except OSError:
                self.dropped += 1
                return None
            self.socks[broker] = sock
        try:
            sock.settimeout(wait)
            sock.sendall(data)
            if not answered:  # acks=0: Kafka sends nothing back
                return None
            frame = read_frame(sock)
            self.answered += 1
            return frame
        except (OSError, ConnectionError):
            # Closed by the listener, or still waiting (a JoinGroup's barrier, a long poll,
            # acks=0): a later request on it would read that answer, so start afresh.
            sock.close()
            del self.socks[broker]
            self.dropped += 1
            return None

    def close(self):
        for sock in self.socks.values():
            sock.close()


def test_structured_fuzz_of_every_api_and_version_while_brokers_stop_and_start(caplog):
    spec = {**LIVE_SPEC,
            "cluster_config": {**LIVE_SPEC["cluster_config"],
                               "group.initial.rebalance.delay.ms": 50},
            "topics": [{"name": "f", "partitions": 3, "replication_factor": 2},
                       {"name": "g2", "partitions": 1, "replication_factor": 3}]}
    live = Live(spec)
    checker = EventChecker()
    violations: list[str] = []
    kinds: dict[str, int] = {}

    def check(events):
        for e in events:
            kinds[e["type"]] = kinds.get(e["type"], 0) + 1
        try:
            checker.feed(events)
        except AssertionError as e:
            violations.append(str(e))

    def watch():
        # From the room as the listener made it: topics created, nothing produced yet.
        checker.last_seq = live.room.cluster.seq
        checker.last_t_ms = live.room.cluster.now_ms
        live.room.add_listener(check)

    live.call(watch)
    steady = socket.create_connection(("127.0.0.1", live.port + 2), timeout=5)
    client = Client(live)
    try:
        rng = random.Random(int(os.environ.get("FUZZ_SEED", "2026")))
        values = Values(rng)
        cases = [(k, v) for k, api in sorted(HANDLERS.items())
                 for v in range(api.min_version, api.max_version + 1)]
        stopped: set[int] = set()
        correlation = 0
        started = time.monotonic()
        for round_ in range(8):
            rng.shuffle(cases)
            leaders = {p["partition"]: p["leader"]
                       for p in live.snapshot()["topics"].get("f", {}).get("partitions", [])}
            for api_key, version in cases:
                correlation += 1
                kind = rng.random()
                if rng.random() < 0.5:
                    key, v, body = group_request(values, rng)
                    frame = client.send(live.call(live.listener.coordinator, "fuzz") or 3,
                                        frame_of(key, v, correlation, body), wait=1.5)
                    if frame is not None and key == 11:
                        learn_member_id(values, frame, v)
                    correlation += 1
                if rng.random() < 0.3:
                    partition = rng.randrange(3)
                    acks = rng.choice([-1, -1, 1, 0])
                    body = produce_body(values, rng, partition, acks)
                    client.send(leaders.get(partition) or 3, frame_of(0, 9, correlation, body),
                                answered=acks != 0)
                    correlation += 1
                if kind < 0.25:  # random bytes behind a well-formed header
                    body = rng.randbytes(rng.randrange(0, 60))
                else:
                    body = structured(values, api_key, version)
                    if body is None:
                        continue
                    if kind < 0.45 and body:  # ... with a few bytes changed
                        body = bytearray(body)
                        for _ in range(rng.randrange(1, 4)):
                            body[rng.randrange(len(body))] = rng.randrange(256)
                        body = bytes(body)
                broker = rng.choice([1, 2, 3])
                if api_key in (0, 1, 2) and rng.random() < 0.7:
                    # Mostly to a leader of "f", or records never land.
                    broker = leaders.get(rng.randrange(3)) or broker
                if api_key in GROUP_APIS and rng.random() < 0.7:
                    # Mostly to the coordinator, or groups never get past NOT_COORDINATOR.
                    broker = live.call(live.listener.coordinator, "fuzz") or broker
                frame = client.send(broker, frame_of(api_key, version, correlation, body))
                if frame is not None:
                    assert struct.unpack_from(">i", frame)[0] == correlation
                    if api_key == 11 and kind >= 0.45:
                        learn_member_id(values, frame, version)
                if rng.random() < (0.1 if stopped else 0.02):  # broker 1 or 2 stops or starts
                    broker = rng.choice(sorted(stopped) or [1, 2])  # the steady one's 3 stays up
                    if broker in stopped:
                        live.apply({"type": "broker.start", "broker": broker})
                        stopped.discard(broker)
                    else:
                        live.apply({"type": "broker.stop", "broker": broker,
                                    "mode": rng.choice(["clean", "crash"])})
                        stopped.add(broker)
            # The steady connection answers between rounds.
            steady.sendall(api_versions_request(correlation_id=round_))
            assert struct.unpack_from(">i", read_frame(steady))[0] == round_
        assert client.answered > 200 and client.dropped > 20, (client.answered, client.dropped)
        assert time.monotonic() - started < 120
        for broker in sorted(stopped):
            live.apply({"type": "broker.start", "broker": broker})

        # The listener serves real clients afterwards, and the room is whole.
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=live.bootstrap_all, acks="all")
        assert producer.send("after-fuzz", b"still here").get(15).offset == 0
        producer.close(5)
        assert violations == []
        # The fuzz reached deep: records landed and groups formed while brokers came and went.
        assert kinds.get("record.produced", 0) > 50 and kinds.get("group.join_completed")
        # Well-formed requests got answers: no handler failed on one (closing its connection).
        failures = [r.getMessage() for r in caplog.records
                    if r.name.startswith("playground.kafka") and r.levelname == "ERROR"]
        assert failures == []
        assert len(values.member_ids) > 3  # JoinGroups went through: real ids were reused
        snapshot = live.snapshot()
        assert ownership_problems(snapshot) == []
        replays_exactly(live)
    finally:
        client.close()
        steady.close()
        live.close()


def produce_body(values: Values, rng: random.Random, partition: int, acks: int) -> bytes:
    """A Produce of "f" as clients send it, idempotent or not."""
    body = {"transactional_id": None, "acks": acks, "timeout_ms": 300,
            "topic_data": [{"name": "f", "partition_data": [
                {"index": partition, "records": values.records()}]}]}
    cls = codec.REQUESTS[0]
    return bytes(codec._build(cls, 9, body).encode(version=9))


def group_request(values: Values, rng: random.Random) -> tuple[int, int, bytes]:
    """A group request that mostly makes sense (the coordinator's group, a known member id,
    a recent generation, a decodable subscription or assignment), with one field or another
    off: what misbehaving or racing clients send."""
    member = rng.choice(values.member_ids)
    generation = rng.choice([values.generation, values.generation, values.generation - 1,
                             values.generation + 1, -1, 0])
    kind = rng.choice(["join", "join", "sync", "sync", "heartbeat", "leave", "commit"])
    if kind == "join":
        key, version = 11, rng.choice([1, 3, 5, 7])
        body = {"group_id": "fuzz", "session_timeout_ms": rng.choice([6_000, 6_000, 10]),
                "rebalance_timeout_ms": rng.choice([300, 1_000]), "member_id": member,
                "group_instance_id": None, "protocol_type": "consumer",
                "protocols": [{"name": rng.choice(["range", "roundrobin"]),
                               "metadata": values.raw("metadata")}]}
    elif kind == "sync":
        key, version = 14, rng.choice([1, 3, 5])
        body = {"group_id": "fuzz", "generation_id": generation, "member_id": member,
                "group_instance_id": None, "protocol_type": "consumer",
                "protocol_name": rng.choice(["range", "roundrobin", None]),
                "assignments": [{"member_id": rng.choice(values.member_ids),
                                 "assignment": values.raw("assignment")}
                                for _ in range(rng.randrange(0, 3))]}
    elif kind == "heartbeat":
        key, version = 12, rng.choice([0, 2, 4])
        body = {"group_id": "fuzz", "generation_id": generation, "member_id": member,
                "group_instance_id": None}
    elif kind == "leave":
        key, version = 13, rng.choice([0, 2, 3, 5])
        body = {"group_id": "fuzz", "member_id": member,
                "members": [{"member_id": rng.choice(values.member_ids),
                             "group_instance_id": None, "reason": None}]}
    else:
        key, version = 8, rng.choice([2, 5, 8])
        body = {"group_id": "fuzz", "generation_id_or_member_epoch": generation,
                "member_id": member, "group_instance_id": None, "retention_time_ms": -1,
                "topics": [{"name": rng.choice(["f", "ghost"]), "partitions": [
                    {"partition_index": rng.randrange(-1, 4),
                     "committed_offset": rng.choice([-1, 0, 1, 10**6]),
                     "committed_leader_epoch": -1, "committed_metadata": None}]}]}
    cls = codec.REQUESTS[key]
    return key, version, bytes(codec._build(cls, version, body).encode(version=version))


def learn_member_id(values: Values, frame: bytes, version: int) -> None:
    """Member ids the coordinator handed out, so later requests name real members."""
    cls = codec.RESPONSES[11]
    try:
        response = cls.decode(frame[5 if cls.flexible_version_q(version) else 4:],
                              version=version)
    except Exception:
        return
    if response.member_id and response.member_id not in values.member_ids:
        values.member_ids.append(response.member_id)
    if response.generation_id > values.generation:
        values.generation = response.generation_id


def ownership_problems(snapshot: dict) -> list[str]:
    """check_ownership's rule as it applies to groups of real clients, whose leader decides
    the assignment: no partition has two owners, and nobody owns a topic it did not
    subscribe to (a leader may leave partitions out, as Kafka allows)."""
    problems = []
    for gid, group in snapshot["groups"].items():
        if group["state"] != "Stable":
            continue
        seen: dict = {}
        for mid, parts in group["members"].items():
            topics = group["consumers"][mid]["topics"]
            for topic, partition in parts:
                if topic not in topics:
                    problems.append(f"{gid}: {mid} owns {topic}/{partition} unsubscribed")
                if (topic, partition) in seen:
                    problems.append(f"{gid}: {topic}/{partition} owned twice")
                seen[(topic, partition)] = mid
    return problems
