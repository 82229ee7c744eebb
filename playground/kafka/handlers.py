"""One async function per Kafka API, and the dispatch table the server reads.

Registering an API is one decorator: ``@api(KEY, MIN_VERSION, MAX_VERSION)`` on
``async def handler(conn, request) -> dict``. `conn` is the server's Connection (the room, the
broker this connection reached, the client's id and address, helpers to apply commands and to
await model events: see server.Connection); `request` is the decoded body (codec.py); the
returned dict is the response body in Kafka's schema names (codec.encode_response), or None
for a request that gets no response (Produce with acks=0). ApiVersions advertises exactly what
is registered here.
"""

import time
import uuid
from dataclasses import dataclass

from broker_core import CommandError, reads
from broker_core.config import TOPIC_CONFIGS
from playground.rooms.quotas import QuotaError

from . import codec
from .codec import error_code


@dataclass(frozen=True)
class Api:
    key: int
    name: str
    min_version: int
    max_version: int
    fn: object
    raw: bool = False  # fn(conn, frame) -> response body bytes: an API the codec cannot decode
    # What ApiVersions says, when Kafka advertises more than it serves (Produce: see below).
    advertised_min: int | None = None


HANDLERS: dict[int, Api] = {}
MAX_WAIT_MS = 60_000  # the longest a Fetch long poll or an acks=all Produce waits


def api(key: int, min_version: int, max_version: int, *, raw: bool = False,
        advertised_min: int | None = None):
    """Register a handler. `raw`: the handler reads the frame itself and returns the encoded
    response body (flexible versions only), for an API kafka-python has no schema of.
    `advertised_min`: the minimum ApiVersions announces, when lower than what is served."""
    decodable = codec.versions(key)
    if not raw and (decodable is None
                    or not decodable[0] <= min_version <= max_version <= decodable[1]):
        raise RuntimeError(f"API key {key}: codec decodes versions {decodable}, "
                           f"not {min_version}-{max_version}")

    def register(fn):
        if key in HANDLERS:
            raise RuntimeError(f"API key {key} is registered twice")
        HANDLERS[key] = Api(key, fn.__name__, min_version, max_version, fn, raw,
                            advertised_min)
        return fn

    return register



def topic_uuid(topic: dict) -> uuid.UUID:
    """A topic's id (Metadata v10+, CreateTopics v7): the model numbers topics 1, 2, 3..."""
    return uuid.UUID(int=topic["id"])


ZERO_UUID = uuid.UUID(int=0)


def named_topic(conn, name, topic_id) -> str | None:
    """The topic a request names: by name, or (Produce v13, Fetch v13+, OffsetCommit and
    OffsetFetch v10, DeleteTopics v6) by id; None for an id no topic has
    (UNKNOWN_TOPIC_ID)."""
    if topic_id is not None and topic_id != ZERO_UUID:
        return reads.topic_named_by_id(conn.room.cluster, topic_id.int)
    return name


def topic_id_of(conn, name: str) -> uuid.UUID:
    found = reads.topic_id(conn.room.cluster, name)
    return ZERO_UUID if found is None else uuid.UUID(int=found)


# -- ApiVersions ---------------------------------------------------------------------------------

def advertised() -> list[dict]:
    return [{"api_key": k, "min_version": a.min_version if a.advertised_min is None
             else a.advertised_min, "max_version": a.max_version}
            for k, a in sorted(HANDLERS.items())]


def api_versions_unsupported() -> dict:
    """KIP-511: a client asking for a newer ApiVersions than we speak gets UNSUPPORTED_VERSION
    in v0, with our ApiVersions range, and asks again in a version we have."""
    a = HANDLERS[18]
    return {"error_code": error_code("UNSUPPORTED_VERSION"),
            "api_keys": [{"api_key": 18, "min_version": a.min_version,
                          "max_version": a.max_version}]}


@api(18, 0, 5)
async def api_versions(conn, request) -> dict:
    return {"error_code": 0, "api_keys": advertised(), "throttle_time_ms": 0}


# -- Metadata ------------------------------------------------------------------------------------

CREATE_ERRORS = {"name": "INVALID_TOPIC_EXCEPTION", "auto": "INVALID_REQUEST",
                 "replication_factor": "INVALID_REPLICATION_FACTOR",
                 "partitions": "INVALID_PARTITIONS", "command": "POLICY_VIOLATION"}


def kafka_topic_name_message(name: str) -> str:
    """Kafka 4's words for a topic name it refuses (tools print them as they are)."""
    if not name:
        return "Topic name is illegal, it can't be empty"
    if name in (".", ".."):
        return "Topic name cannot be \".\" or \"..\""
    if len(name) > 249:
        return ("Topic name is illegal, it can't be longer than 249 characters, topic name: "
                + name[:300])
    return (f"Topic name is invalid: '{name[:300]}' contains one or more characters other "
            "than ASCII alphanumerics, '.', '_' and '-'")


def create_error(e: CommandError) -> str:
    if isinstance(e, QuotaError):
        # The room's limits act as Kafka's CreateTopicPolicy: POLICY_VIOLATION, in CreateTopics
        # and in Metadata's auto-creation alike (Kafka's ZK-mode auto-creation passes the
        # CreateTopics error through); one topic's partition count answers INVALID_PARTITIONS,
        # as the model's own partition limit does.
        return e.error
    if e.field.startswith("config"):
        return "INVALID_CONFIG"
    return CREATE_ERRORS.get(e.field, "INVALID_REQUEST")


@api(3, 0, 13)
async def metadata(conn, request) -> dict:
    version = conn.header.api_version
    cluster = conn.room.cluster
    wanted = request.topics
    if wanted is None or (version == 0 and not wanted):
        names = reads.topic_names(cluster)
        errors = {}
    else:
        by_id = {uuid.UUID(int=i): name for i, name in reads.topic_ids(cluster).items()}
        names, errors = [], {}
        for t in wanted:
            name = t.name if t.name is not None else by_id.get(getattr(t, "topic_id", None))
            if name is None:
                continue
            names.append(name)
        allow = request.allow_auto_topic_creation if version >= 4 else True
        created = False
        for name in names:
            if reads.has_topic(cluster, name):
                continue
            if not (allow and reads.broker_config(cluster)["auto.create.topics.enable"]):
                errors[name] = "UNKNOWN_TOPIC_OR_PARTITION"
                continue
            # Kafka creates an unknown topic a Metadata request names. Kafka 4 (KRaft) asks
            # its controller to and answers this request UNKNOWN_TOPIC_OR_PARTITION: the
            # client asks again and finds it (measured against Kafka 4.4 by conformance/).
            try:
                conn.apply({"type": "topic.create", "name": name, "auto": True,
                            "client": conn.client})
                created = True
                errors[name] = "UNKNOWN_TOPIC_OR_PARTITION"
            except CommandError as e:
                errors[name] = create_error(e)
        if created:
            await conn.persist()
    brokers = []
    for b in reads.brokers(cluster):
        if b["registered"]:
            host, port = conn.listener.address(b["id"])
            brokers.append({"node_id": b["id"], "host": host, "port": port, "rack": None})
    topics = []
    for name in names:
        if name in errors:
            topics.append({"error_code": error_code(errors[name]), "name": name,
                           "is_internal": False, "partitions": []})
            continue
        topic = reads.topic(cluster, name)
        partitions = []
        for part in topic["partitions"]:
            leader = part["leader"]
            partitions.append({
                "error_code": 0 if leader is not None else error_code("LEADER_NOT_AVAILABLE"),
                "partition_index": part["index"],
                "leader_id": -1 if leader is None else leader,
                "leader_epoch": part["leader_epoch"],
                "replica_nodes": part["replicas"], "isr_nodes": part["isr"],
                "offline_replicas": part["offline_replicas"]})
        topics.append({"error_code": 0, "name": name, "topic_id": topic_uuid(topic),
                       "is_internal": False, "partitions": partitions})
    controller = reads.controller(cluster)
    return {"throttle_time_ms": 0, "brokers": brokers, "error_code": 0,
            "cluster_id": f"playground-{conn.listener.room_id}",
            "controller_id": -1 if controller is None else controller,
            "topics": topics}


# -- Produce -------------------------------------------------------------------------------------

ACKS = {0: "0", 1: "1", -1: "all"}


class _Pending:
    __slots__ = ("topic", "partition", "first", "last", "result", "done")

    def __init__(self, topic, partition, first, last, result):
        self.topic, self.partition, self.first, self.last = topic, partition, first, last
        self.result = result
        self.done = False


def led_here(conn, topic: str, partition: int, out: dict):
    """The partition if this connection's broker leads it; else None, with Kafka's answer
    (UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER) in `out["error_code"]`."""
    part = reads.partition(conn.room.cluster, topic, partition)
    if part is None:
        out["error_code"] = error_code("UNKNOWN_TOPIC_OR_PARTITION")
    elif part["leader"] != conn.broker:
        out["error_code"] = error_code("NOT_LEADER_OR_FOLLOWER")
    else:
        return part
    return None


def _produce_one(conn, topic: str, index: int, records, acks: str, result: dict):
    """Append one partition's batches; fill `result`; return (first, last) offsets when
    acks=all must still wait for them, else None."""
    part = led_here(conn, topic, index, result)
    if part is None:
        return None
    try:
        batches = codec.read_batches(records, conn.decompress_budget)
    except codec.CorruptBatch as e:
        result["error_code"] = error_code(e.error)
        result["error_message"] = str(e)[:500]
        return None
    conn.decompress_budget -= sum(b.inflated for b in batches)
    if len(batches) != 1:
        # Kafka's ProduceRequest.validateRecords (v3+): exactly one batch per partition.
        result["error_code"] = error_code("INVALID_RECORD")
        result["error_message"] = (f"Produce v3+ carries exactly one record batch per "
                                   f"partition, not {len(batches)}")
        return None
    first = last = None
    for batch in batches:
        if batch.transactional:
            result["error_code"] = error_code("INVALID_TXN_STATE")
            result["error_message"] = "transactions are not modelled"
            return None
        command = {"type": "produce.records", "topic": topic, "partition": index,
                   "acks": acks, "client": conn.client, "records": batch.records,
                   "batch_bytes": batch.size}
        if batch.producer_id >= 0 and batch.base_sequence >= 0:
            command.update(producer_id=batch.producer_id,
                           producer_epoch=batch.producer_epoch,
                           base_sequence=batch.base_sequence)
        try:
            _, answer = conn.request(command, plain=True)
        except CommandError as e:
            full = e.field == "command"
            result["error_code"] = error_code("POLICY_VIOLATION" if full else "INVALID_RECORD")
            result["error_message"] = e.message[:500]
            if full:
                conn.listener.recording_full()
            return None
        if "error" in answer:
            result["error_code"] = error_code(answer["error"])
            result["error_message"] = answer["message"]
            return None
        last = answer["last_offset"]
        if first is None:
            first = answer["base_offset"]
    result["base_offset"] = first
    # Read again: the append (and what it set off at this instant) moved them.
    after = reads.partition(conn.room.cluster, topic, index)
    result["log_start_offset"] = after["log_start_offset"]
    if acks == "all" and after["high_watermark"] <= last:
        return first, last
    return None


# Kafka 4 advertises Produce from v0 but serves it from v3 (the connection closes below, as
# for every version below a floor): librdkafka before 2.10 stops compressing when Produce's
# advertised minimum is not 0 (KAFKA-18659).
@api(0, 3, 13, advertised_min=0)
async def produce(conn, request) -> dict | None:
    if request.acks not in ACKS:
        acks = None
    else:
        acks = ACKS[request.acks]
    responses = []
    pending: list[_Pending] = []
    names = [named_topic(conn, t.name, getattr(t, "topic_id", None))
             for t in request.topic_data]
    # acks=all: watching from before the first append (applying one partition's batch first
    # brings the room up to now, which may already move the high watermark past an earlier
    # one's). Only then: every open watch looks at every event the room makes, two a record.
    watch = conn.watch(_ack_events({n for n in names if n is not None})) \
        if acks == "all" else None
    # What this request's compressed batches may decompress to, all partitions together.
    conn.decompress_budget = codec.MAX_DECOMPRESSED_BYTES
    try:
        _produce_all(conn, request, names, acks, responses, pending)
        if pending:
            await _await_acks(conn, watch, pending, min(request.timeout_ms, MAX_WAIT_MS) / 1000)
    finally:
        if watch is not None:
            watch.close()
    await conn.persist(last=True)
    if request.acks == 0:
        return None  # acks=0: Kafka sends no response at all
    return {"responses": responses, "throttle_time_ms": 0}


def _ack_events(topics: set):
    def relevant(e):
        return e["type"] in ("partition.high_watermark", "produce.failed",
                             "topic.deleted") and e.get("topic") in topics

    return relevant


def _produce_all(conn, request, names, acks, responses: list, pending: list) -> None:
    for topic_data, name in zip(request.topic_data, names, strict=True):
        partitions = []
        for pd in topic_data.partition_data:
            result = {"index": pd.index, "error_code": 0, "base_offset": -1,
                      "log_append_time_ms": -1, "log_start_offset": -1}
            partitions.append(result)
            if name is None:
                result["error_code"] = error_code("UNKNOWN_TOPIC_ID")
            elif acks is None:
                result["error_code"] = error_code("INVALID_REQUIRED_ACKS")
            elif request.transactional_id is not None:
                result["error_code"] = error_code("TRANSACTIONAL_ID_AUTHORIZATION_FAILED")
            else:
                wait = _produce_one(conn, name, pd.index, pd.records, acks, result)
                if wait is not None:
                    pending.append(_Pending(name, pd.index, *wait, result))
        responses.append({"name": topic_data.name, "topic_id": getattr(topic_data, "topic_id",
                                                                        None) or ZERO_UUID,
                          "partition_responses": partitions})


async def _await_acks(conn, watch, pending: list, timeout_s: float) -> None:
    """acks=all: wait until the high watermark passes each partition's last record, or the
    model says the batch failed (the leader changed and cut it, the ISR fell below
    min.insync.replicas after the append), or the request's timeout passes."""
    client = conn.client
    deadline = time.monotonic() + max(0.0, timeout_s)
    waiting = [p for p in pending if not p.done]
    while waiting:
        event = await watch.next(deadline - time.monotonic())
        if event is None:
            for p in waiting:
                p.result["error_code"] = error_code("REQUEST_TIMED_OUT")
            return
        for p in waiting:
            if event.get("partition", p.partition) != p.partition \
                    or event["topic"] != p.topic:
                continue
            kind = event["type"]
            if kind == "partition.high_watermark" and event["high_watermark"] > p.last:
                p.done = True
            elif kind == "produce.failed" and event.get("producer") == client and any(
                    p.first <= o <= p.last for o in event.get("offsets") or ()):
                p.done = True
                p.result["error_code"] = error_code(event["error"])
                p.result["base_offset"] = -1
            elif kind == "topic.deleted":
                p.done = True
                p.result["error_code"] = error_code("UNKNOWN_TOPIC_OR_PARTITION")
        waiting = [p for p in waiting if not p.done]


# -- Fetch ---------------------------------------------------------------------------------------

@api(1, 4, 18)
async def fetch(conn, request) -> dict:
    version = conn.header.api_version
    # Capped: a waiting Fetch holds its connection (Kafka's own cap is the client's timeout).
    deadline = time.monotonic() + min(max(0, request.max_wait_ms), MAX_WAIT_MS) / 1000
    min_bytes = max(1, request.min_bytes)
    while True:
        responses, size = _fetch_once(conn, request, version)
        remaining = deadline - time.monotonic()
        if size >= min_bytes or remaining <= 0:
            break
        await conn.changed(remaining)
    return {"throttle_time_ms": 0, "error_code": 0, "session_id": 0, "responses": responses}


def _fetch_once(conn, request, version) -> tuple[list, int]:
    cluster = conn.room.cluster
    epoch_ms = conn.listener.epoch_ms
    budget = request.max_bytes if version >= 3 else 2**31 - 1
    responses = []
    total = 0
    errors = 0
    for topic in request.topics:
        partitions = []
        topic_id = getattr(topic, "topic_id", None) if version >= 13 else None
        name = named_topic(conn, topic.topic, topic_id)
        for fp in topic.partitions:
            out = {"partition_index": fp.partition, "error_code": 0, "high_watermark": -1,
                   "last_stable_offset": -1, "log_start_offset": -1,
                   "aborted_transactions": None, "preferred_read_replica": -1, "records": b""}
            partitions.append(out)
            if name is None:
                out["error_code"] = error_code("UNKNOWN_TOPIC_ID")
                errors += 1
                continue
            part = led_here(conn, name, fp.partition, out)
            if part is None:
                errors += 1
                continue
            leader_epoch = getattr(fp, "current_leader_epoch", -1)
            if version >= 9 and leader_epoch >= 0 and leader_epoch != part["leader_epoch"]:
                out["error_code"] = error_code("FENCED_LEADER_EPOCH"
                                               if leader_epoch < part["leader_epoch"]
                                               else "UNKNOWN_LEADER_EPOCH")
                errors += 1
                continue
            max_bytes = min(fp.partition_max_bytes, budget) if total else fp.partition_max_bytes
            read = reads.records(cluster, name, fp.partition, fp.fetch_offset,
                                 max(1, max_bytes))
            out["high_watermark"] = read.get("high_watermark", -1)
            out["last_stable_offset"] = read.get("high_watermark", -1)
            out["log_start_offset"] = read.get("log_start_offset", -1)
            if read["error"] is not None:
                out["error_code"] = error_code(read["error"])
                errors += 1
                continue
            if read["records"] and (budget > 0 or not total):
                data = codec.write_batch(read["records"], part["leader_epoch"], epoch_ms,
                                         read["create_times"])
                out["records"] = data
                total += len(data)
                budget -= len(data)
        responses.append({"topic": topic.topic, "topic_id": topic_id or ZERO_UUID,
                          "partitions": partitions})
    # An error is worth answering at once, as Kafka does.
    return responses, total + (2**31 if errors else 0)


# -- ListOffsets ---------------------------------------------------------------------------------

@api(2, 1, 11)
async def list_offsets(conn, request) -> dict:
    cluster = conn.room.cluster
    epoch_ms = conn.listener.epoch_ms
    topics = []
    for topic in request.topics:
        partitions = []
        for lp in topic.partitions:
            out = {"partition_index": lp.partition_index, "error_code": 0, "timestamp": -1,
                   "offset": -1, "leader_epoch": -1}
            partitions.append(out)
            part = led_here(conn, topic.name, lp.partition_index, out)
            if part is None:
                continue
            error, offset, found_ts, leader_epoch = reads.offset_for(
                cluster, topic.name, lp.partition_index, lp.timestamp, epoch_ms)
            out.update(error_code=error_code(error), offset=offset, timestamp=found_ts,
                       leader_epoch=leader_epoch)
        topics.append({"name": topic.name, "partitions": partitions})
    return {"throttle_time_ms": 0, "topics": topics}


# -- OffsetForLeaderEpoch ------------------------------------------------------------------------

@api(23, 2, 4)
async def offset_for_leader_epoch(conn, request) -> dict:
    """KIP-320: after a leader change a consumer (kafka-python 3, librdkafka, Java) asks where
    the epoch of its position ended, to find out whether the log was truncated under it.
    Without this API kafka-python's consumer retried forever and read nothing more."""
    topics = []
    for topic in request.topics:
        partitions = []
        for op in topic.partitions:
            out = {"partition": op.partition, "error_code": 0, "leader_epoch": -1,
                   "end_offset": -1}
            partitions.append(out)
            part = led_here(conn, topic.topic, op.partition, out)
            if part is None:
                continue
            current = op.current_leader_epoch
            if current >= 0 and current != part["leader_epoch"]:
                out["error_code"] = error_code("FENCED_LEADER_EPOCH"
                                               if current < part["leader_epoch"]
                                               else "UNKNOWN_LEADER_EPOCH")
                continue
            epoch, end = reads.end_offset_for_epoch(conn.room.cluster, topic.topic,
                                                    op.partition, op.leader_epoch)
            out.update(leader_epoch=epoch, end_offset=end)
        topics.append({"topic": topic.topic, "partitions": partitions})
    return {"throttle_time_ms": 0, "topics": topics}


# -- FindCoordinator -----------------------------------------------------------------------------

# Transactions are not modelled yet. The refusal must be one every client treats as final at
# once: COORDINATOR_NOT_AVAILABLE made them retry until their own timeouts (kafkajs ~25 s,
# kafka-python 60 s, librdkafka the caller's). A transaction coordinator is found as a group
# coordinator is (refusing FindCoordinator made sarama retry 50 times and kafkajs report a
# missing group coordinator); InitProducerId with the transactional id is then refused with
# an authorization failure, final in Java, librdkafka, franz-go, sarama, kafkajs and
# kafka-python alike, and the room's page says why.
NO_TRANSACTIONS = ("TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
                   "A Kafka client asked for a transaction (transactional.id): the playground "
                   "does not model transactions yet, so it was refused. Idempotent producers "
                   "work.")


def _coordinator(conn, key: str, key_type: int) -> dict:
    if key_type == 2:  # FindCoordinator v6: a share group's share coordinator (KIP-932)
        return {"error_code": error_code("INVALID_REQUEST"), "node_id": -1, "host": "",
                "port": -1, "error_message": "share groups are not modelled yet"}
    broker = conn.listener.coordinator(key)
    if broker is None:
        return {"error_code": error_code("COORDINATOR_NOT_AVAILABLE"), "node_id": -1,
                "host": "", "port": -1, "error_message": "no broker is running"}
    host, port = conn.listener.address(broker)
    return {"error_code": 0, "node_id": broker, "host": host, "port": port,
            "error_message": None}


@api(10, 0, 6)
async def find_coordinator(conn, request) -> dict:
    if conn.header.api_version >= 4:
        return {"throttle_time_ms": 0, "coordinators": [
            {"key": key, **_coordinator(conn, key, request.key_type)}
            for key in request.coordinator_keys]}
    return {"throttle_time_ms": 0, **_coordinator(conn, request.key, request.key_type)}


# -- InitProducerId ------------------------------------------------------------------------------

@api(22, 0, 5)
async def init_producer_id(conn, request) -> dict:
    if request.transactional_id is not None:
        conn.listener.notice_once("transactions", NO_TRANSACTIONS[1])
        return {"throttle_time_ms": 0, "producer_id": -1, "producer_epoch": -1,
                "error_code": error_code(NO_TRANSACTIONS[0])}
    command = {"type": "producer.init_id", "client": conn.client}
    if request.producer_id >= 0:
        command.update(producer_id=request.producer_id, producer_epoch=request.producer_epoch)
    try:
        _, answer = conn.request(command)
    except CommandError:
        return {"throttle_time_ms": 0, "producer_id": -1, "producer_epoch": -1,
                "error_code": error_code("INVALID_PRODUCER_EPOCH")}
    await conn.persist()
    return {"throttle_time_ms": 0, "error_code": 0, "producer_id": answer["producer_id"],
            "producer_epoch": answer["producer_epoch"]}


# -- CreateTopics, DeleteTopics, DescribeConfigs -------------------------------------------------

def _config_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@api(19, 2, 7)
async def create_topics(conn, request) -> dict:
    cluster = conn.room.cluster
    defaults = reads.broker_config(cluster)
    results = []
    changed = False
    for t in request.topics:
        out = {"name": t.name, "error_code": 0, "error_message": None,
               "num_partitions": -1, "replication_factor": -1, "configs": None}
        results.append(out)
        if t.assignments:
            out["error_code"] = error_code("INVALID_REPLICA_ASSIGNMENT")
            out["error_message"] = "manual replica assignment is not modelled"
            continue
        # -1 asks for the broker's default; any other non-positive count is refused, as
        # Kafka refuses it.
        if t.num_partitions == 0 or t.num_partitions < -1:
            out["error_code"] = error_code("INVALID_PARTITIONS")
            out["error_message"] = ("Number of partitions was set to an invalid non-positive "
                                    "value.")
            continue
        if t.replication_factor == 0 or t.replication_factor < -1:
            out["error_code"] = error_code("INVALID_REPLICATION_FACTOR")
            out["error_message"] = ("Replication factor must be larger than 0, or -1 to use "
                                    "the default value.")
            continue
        command = {"type": "topic.create", "name": t.name, "client": conn.client,
                   "partitions": t.num_partitions if t.num_partitions > 0
                   else defaults["num.partitions"],
                   "replication_factor": t.replication_factor if t.replication_factor > 0
                   else defaults["default.replication.factor"]}
        if t.configs:
            command["config"] = {c.name: c.value for c in t.configs}
        if reads.has_topic(cluster, t.name):
            out["error_code"] = error_code("TOPIC_ALREADY_EXISTS")
            out["error_message"] = f"Topic '{t.name}' already exists."
            continue
        if request.validate_only:
            continue
        try:
            conn.apply(command)
        except CommandError as e:
            out["error_code"] = error_code(create_error(e))
            out["error_message"] = (kafka_topic_name_message(t.name) if e.field == "name"
                                    else f"{e.field}: {e.message}"[:500])
            continue
        changed = True
        topic = reads.topic(cluster, t.name)
        out.update(topic_id=topic_uuid(topic), num_partitions=len(topic["partitions"]),
                   replication_factor=topic["replication_factor"],
                   configs=[{"name": k, "value": _config_text(v), "read_only": False,
                             "config_source": 5, "is_sensitive": False}
                            for k, v in sorted(topic["config"].items())])
    if changed:
        await conn.persist()
    return {"throttle_time_ms": 0, "topics": results}


@api(20, 1, 6)
async def delete_topics(conn, request) -> dict:
    cluster = conn.room.cluster
    results = []
    changed = False
    if conn.header.api_version >= 6:  # v6: each topic by name or by id
        asked = [(t.name, t.topic_id) for t in request.topics or []]
    else:
        asked = [(name, None) for name in request.topic_names]
    for given, topic_id in asked:
        name = named_topic(conn, given, topic_id)
        out = {"name": name if name is not None else given, "error_code": 0,
               "error_message": None, "topic_id": topic_id or ZERO_UUID}
        results.append(out)
        if name is None:
            out["error_code"] = error_code("UNKNOWN_TOPIC_ID")
            continue
        if not reads.has_topic(cluster, name):
            out["error_code"] = error_code("UNKNOWN_TOPIC_OR_PARTITION")
            continue
        if out["topic_id"] == ZERO_UUID:
            out["topic_id"] = topic_id_of(conn, name)
        try:
            conn.apply({"type": "topic.delete", "name": name, "client": conn.client})
            changed = True
        except CommandError as e:
            out["error_code"] = error_code("INVALID_REQUEST")
            out["error_message"] = e.message[:500]
    if changed:
        await conn.persist()
    return {"throttle_time_ms": 0, "responses": results}


TOPIC, BROKER = 2, 4
BROKER_CONFIGS = ("auto.create.topics.enable", "num.partitions", "default.replication.factor",
                  "replica.lag.time.max.ms", "zookeeper.session.timeout.ms",
                  "group.initial.rebalance.delay.ms", "log.retention.check.interval.ms")


@api(32, 1, 4)
async def describe_configs(conn, request) -> dict:
    cluster = conn.room.cluster
    results = []
    for res in request.resources:
        out = {"error_code": 0, "error_message": None, "resource_type": res.resource_type,
               "resource_name": res.resource_name, "configs": []}
        results.append(out)
        keys = set(res.configuration_keys) if res.configuration_keys else None
        if res.resource_type == TOPIC:
            topic = reads.topic(cluster, res.resource_name)
            if topic is None:
                out["error_code"] = error_code("UNKNOWN_TOPIC_OR_PARTITION")
                continue
            items = [(k, v, v == TOPIC_CONFIGS[k][0])
                     for k, v in sorted(topic["config"].items())]
            source_set = 1  # DYNAMIC_TOPIC_CONFIG
        elif res.resource_type == BROKER:
            ids = {str(b["id"]) for b in reads.brokers(cluster)}
            if res.resource_name and res.resource_name not in ids:
                out["error_code"] = error_code("INVALID_REQUEST")
                out["error_message"] = f"no broker {res.resource_name}"
                continue
            config = reads.broker_config(cluster)
            items = [(k, config[k], False) for k in BROKER_CONFIGS]
            source_set = 4  # STATIC_BROKER_CONFIG: the room's spec sets them
        else:
            out["error_code"] = error_code("INVALID_REQUEST")
            out["error_message"] = "only topic and broker configs are modelled"
            continue
        synonyms = bool(getattr(request, "include_synonyms", False))
        for name, value, default in items:
            if keys is not None and name not in keys:
                continue
            source = 5 if default else source_set
            out["configs"].append({
                "name": name, "value": _config_text(value),
                "read_only": res.resource_type == BROKER, "is_default": default,
                "config_source": source, "is_sensitive": False,
                # The value's own source first, as Kafka lists them; a default has none.
                "synonyms": [{"name": name, "value": _config_text(value), "source": source}]
                if synonyms and not default else []})
    return {"throttle_time_ms": 0, "results": results}


# The group APIs (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch) live
# in groups.py and register themselves with @api when imported (last: they need `api`).
from . import admin, groups, unmodelled  # noqa: E402,F401
