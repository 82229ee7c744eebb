"""The administrative APIs: what `kafka-consumer-groups`, `kafka-topics`, `kafka-configs` and
every client's admin object send besides creating and deleting topics.

ListGroups, DescribeGroups, DeleteGroups and OffsetDelete read and change groups (modelled
consumers and real clients alike); CreatePartitions, AlterConfigs, IncrementalAlterConfigs and
DeleteRecords change topics; DescribeCluster lists the brokers. Changes go through the model's
commands (topic.add_partitions, topic.alter_config, records.delete, group.delete,
group.delete_offsets), so they enter the recording and animate like the page's own; reads go
through broker_core.reads. Errors are the ones Kafka 4 answers for the same request.
"""

from broker_core import CommandError, reads
from broker_core.config import TOPIC_CONFIGS, validate_config
from playground.rooms.quotas import QuotaError

from . import codec_groups
from .codec import error_code
from .handlers import BROKER, TOPIC, ZERO_UUID, api, led_here, topic_uuid

# authorized_operations fields, as the codec takes them: the set of AclOperation codes whose
# bits are set (READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9,
# DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12), or None for Kafka's "not asked
# for" (-2^31). With no authorizer everything is allowed, and Kafka answers the operations
# that exist for the resource type.
NOT_ASKED = None
GROUP_OPERATIONS = {3, 6, 8}
CLUSTER_OPERATIONS = {4, 5, 7, 8, 9, 10, 11, 12}


def _coordinated_here(conn, gid: str) -> bool:
    return conn.listener.coordinator(gid) == conn.broker


# -- ListGroups ----------------------------------------------------------------------------------

@api(16, 0, 5)
async def list_groups(conn, request) -> dict:
    """Each broker lists the groups it coordinates (admin clients ask every broker). Every
    group here is a classic one (KIP-848's consumer groups are not modelled yet)."""
    version = conn.header.api_version
    states = {s.lower() for s in (getattr(request, "states_filter", None) or [])}
    types = {t.lower() for t in (getattr(request, "types_filter", None) or [])}
    groups = []
    if not types or "classic" in types:
        for g in reads.group_ids(conn.room.cluster):
            if not _coordinated_here(conn, g["group"]):
                continue
            if states and g["state"].lower() not in states:
                continue
            row = {"group_id": g["group"], "protocol_type": g["protocol_type"]}
            if version >= 4:
                row["group_state"] = g["state"]
            if version >= 5:
                row["group_type"] = "classic"  # Kafka's GroupType.CLASSIC.toString()
            groups.append(row)
    return {"throttle_time_ms": 0, "error_code": 0, "groups": groups}


# -- DescribeGroups ------------------------------------------------------------------------------

def _member_bytes(member: dict) -> tuple[bytes, bytes]:
    """A member's subscription and assignment as the consumer protocol encodes them: a real
    client's own bytes; for a modelled consumer, what a Java consumer would have sent."""
    if "metadata" in member:
        return codec_groups.unb64(member["metadata"]), codec_groups.unb64(member["assignment"])
    if "topics" in member:
        return (codec_groups.encode_subscription(member["topics"]),
                codec_groups.encode_assignment(member["partitions"]))
    return b"", b""


@api(15, 0, 6)
async def describe_groups(conn, request) -> dict:
    version = conn.header.api_version
    asked = bool(getattr(request, "include_authorized_operations", False))
    groups = []
    for gid in request.groups or []:
        gid = gid or ""
        out = {"error_code": 0, "error_message": None, "group_id": gid, "group_state": "",
               "protocol_type": "", "protocol_data": "", "members": [],
               "authorized_operations": GROUP_OPERATIONS if asked else NOT_ASKED}
        groups.append(out)
        if not _coordinated_here(conn, gid):
            out["error_code"] = error_code("NOT_COORDINATOR")
            continue
        group = reads.group(conn.room.cluster, gid)
        if group is None:
            # Kafka 4 (KIP-1043): v6 says GROUP_ID_NOT_FOUND; older versions a Dead group.
            if version >= 6:
                out["error_code"] = error_code("GROUP_ID_NOT_FOUND")
                out["error_message"] = f"Group {gid} not found."
            out["group_state"] = "Dead"
            continue
        out.update(group_state=group["state"], protocol_type=group["protocol_type"],
                   protocol_data=group["protocol"])
        for m in group["members"]:
            metadata, assignment = _member_bytes(m)
            out["members"].append({"member_id": m["member_id"],
                                   "group_instance_id": m["instance_id"],
                                   "client_id": m["client_id"],
                                   "client_host": "/" + m["client_host"],
                                   "member_metadata": metadata,
                                   "member_assignment": assignment})
    return {"throttle_time_ms": 0, "groups": groups}


# -- DeleteGroups and OffsetDelete ---------------------------------------------------------------

@api(42, 0, 3)
async def delete_groups(conn, request) -> dict:
    cluster = conn.room.cluster
    results = []
    changed = False
    for gid in request.groups_names or []:
        gid = gid or ""
        results.append(out := {"group_id": gid, "error_code": 0})
        if conn.header.api_version >= 3:
            out["error_message"] = None  # v3 (written by codec, not kafka-python's schema)
        if not _coordinated_here(conn, gid):
            out["error_code"] = error_code("NOT_COORDINATOR")
            continue
        group = reads.group(cluster, gid)
        if group is None:
            out["error_code"] = error_code("GROUP_ID_NOT_FOUND")
        elif group["members"]:
            out["error_code"] = error_code("NON_EMPTY_GROUP")
        else:
            try:
                conn.apply({"type": "group.delete", "group": gid})
                changed = True
            except CommandError as e:
                out["error_code"] = error_code("INVALID_GROUP_ID" if e.field == "group"
                                               else "INVALID_REQUEST")
    if changed:
        await conn.persist()
    return {"throttle_time_ms": 0, "results": results}


@api(47, 0, 0)
async def offset_delete(conn, request) -> dict:
    gid = request.group_id or ""
    topics = request.topics or []

    def answer(top: str, each=None) -> dict:
        each = iter(each or ())
        return {"error_code": error_code(top), "throttle_time_ms": 0, "topics": [
            {"name": t.name, "partitions": [
                {"partition_index": p.partition_index,
                 "error_code": error_code(next(each, "NONE") if top == "NONE" else "NONE")}
                for p in t.partitions or []]}
            for t in topics]}

    if not _coordinated_here(conn, gid):
        return answer("NOT_COORDINATOR")
    group = reads.group(conn.room.cluster, gid)
    if group is None:
        return answer("GROUP_ID_NOT_FOUND")
    if group["members"] and group["protocol_type"] != codec_groups.CONSUMER_PROTOCOL_TYPE:
        # Kafka can only tell which topics a consumer group reads; any other kind of group
        # must be Empty.
        return answer("NON_EMPTY_GROUP")
    errors = []
    changed = False
    for t in topics:
        try:
            _, result = conn.request({"type": "group.delete_offsets", "group": gid,
                                      "topic": t.name or "",
                                      "partitions": [p.partition_index
                                                     for p in t.partitions or []]})
        except CommandError:
            errors += ["UNKNOWN_TOPIC_OR_PARTITION"] * len(t.partitions or [])
            continue
        errors += result["errors"]
        changed = changed or "NONE" in result["errors"]
    if changed:
        await conn.persist()
    return answer("NONE", errors)


# -- CreatePartitions ----------------------------------------------------------------------------

@api(37, 0, 3)
async def create_partitions(conn, request) -> dict:
    cluster = conn.room.cluster
    results = []
    changed = False
    for t in request.topics or []:
        results.append(out := {"name": t.name, "error_code": 0, "error_message": None})
        topic = reads.topic(cluster, t.name or "")
        if topic is None:
            out["error_code"] = error_code("UNKNOWN_TOPIC_OR_PARTITION")
            out["error_message"] = "This server does not host this topic-partition."
            continue
        current = len(topic["partitions"])
        if t.assignments:
            out["error_code"] = error_code("INVALID_REPLICA_ASSIGNMENT")
            out["error_message"] = "manual replica assignment is not modelled"
            continue
        if t.count <= current:
            out["error_code"] = error_code("INVALID_PARTITIONS")
            out["error_message"] = (f"Topic already has {current} partition(s)."
                                    if t.count == current else
                                    f"The topic {t.name} currently has {current} partition(s); "
                                    f"{t.count} would not be an increase.")
            continue
        if request.validate_only:
            continue
        try:
            conn.apply({"type": "topic.add_partitions", "name": t.name,
                        "partitions": t.count})
            changed = True
        except CommandError as e:
            out["error_code"] = error_code(e.error if isinstance(e, QuotaError)
                                           else "INVALID_PARTITIONS")
            out["error_message"] = f"{e.field}: {e.message}"[:500]
    if changed:
        await conn.persist()
    return {"throttle_time_ms": 0, "results": results}


# -- AlterConfigs and IncrementalAlterConfigs ----------------------------------------------------

SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


class Refused(Exception):
    """A resource's alteration refused before the model sees it: (Kafka error, message)."""
LIST_CONFIGS = {"cleanup.policy"}  # Kafka's LIST-typed topic configs the model has


def _config_changes(resource, incremental: bool, current: dict) -> dict:
    """The topic.alter_config `config` object for one resource: name -> new value, or None to
    go back to the default. Raises Refused(error name, message)."""
    names = [c.name for c in resource.configs or []]
    if len(names) != len(set(names)):
        raise Refused("INVALID_REQUEST", "Error due to duplicate config keys")
    changes: dict = {}
    for c in resource.configs or []:
        if c.name not in TOPIC_CONFIGS:
            raise Refused("INVALID_CONFIG", f"Unknown topic config name: {c.name} (the "
                             f"playground models {', '.join(sorted(TOPIC_CONFIGS))})")
        op = c.config_operation if incremental else SET
        if op == SET:
            if c.value is None:
                raise Refused("INVALID_REQUEST", f"Null value not supported for : {c.name}")
            changes[c.name] = c.value
        elif op == DELETE:
            changes[c.name] = None
        elif op in (APPEND, SUBTRACT):
            if c.name not in LIST_CONFIGS:
                verb = "append" if op == APPEND else "subtract"
                raise Refused("INVALID_CONFIG", f"Config value {verb} is not allowed for "
                                 f"config key: {c.name}")
            items = [x for x in str(current[c.name]).split(",") if x]
            given = [x.strip() for x in (c.value or "").split(",") if x.strip()]
            if op == APPEND:
                items += [x for x in given if x not in items]
            else:
                items = [x for x in items if x not in given]
            changes[c.name] = ",".join(items) if items else None
        else:
            raise Refused("INVALID_REQUEST", f"Unknown operation {op} for {c.name}")
    if not incremental:
        # The legacy AlterConfigs replaces the whole set: what it leaves out goes back to the
        # default.
        for name, (default, _, _) in TOPIC_CONFIGS.items():
            if name not in changes and current.get(name) != default:
                changes[name] = None
    return changes


async def _alter_configs(conn, request, incremental: bool) -> dict:
    cluster = conn.room.cluster
    responses = []
    changed = False
    for res in request.resources or []:
        responses.append(out := {"error_code": 0, "error_message": None,
                                 "resource_type": res.resource_type,
                                 "resource_name": res.resource_name})
        if res.resource_type == BROKER:
            out["error_code"] = error_code("INVALID_REQUEST")
            out["error_message"] = ("broker configs are set by the room's spec and cannot be "
                                    "changed by a client")
            continue
        if res.resource_type != TOPIC:
            out["error_code"] = error_code("INVALID_REQUEST")
            out["error_message"] = "only topic configs can be altered here"
            continue
        topic = reads.topic(cluster, res.resource_name or "")
        if topic is None:
            out["error_code"] = error_code("UNKNOWN_TOPIC_OR_PARTITION")
            out["error_message"] = f"The topic '{res.resource_name}' does not exist."
            continue
        try:
            changes = _config_changes(res, incremental, topic["config"])
            validate_config({k: v for k, v in changes.items() if v is not None})
        except Refused as e:
            out["error_code"], out["error_message"] = error_code(e.args[0]), e.args[1]
            continue
        except CommandError as e:
            out["error_code"] = error_code("INVALID_CONFIG")
            out["error_message"] = f"{e.field}: {e.message}"[:500]
            continue
        if request.validate_only or not changes:
            continue
        try:
            conn.apply({"type": "topic.alter_config", "name": res.resource_name,
                        "config": changes})
            changed = True
        except CommandError as e:
            out["error_code"] = error_code("INVALID_CONFIG")
            out["error_message"] = f"{e.field}: {e.message}"[:500]
    if changed:
        await conn.persist()
    return {"throttle_time_ms": 0, "responses": responses}


@api(33, 0, 2)
async def alter_configs(conn, request) -> dict:
    return await _alter_configs(conn, request, incremental=False)


@api(44, 0, 1)
async def incremental_alter_configs(conn, request) -> dict:
    return await _alter_configs(conn, request, incremental=True)


# -- DeleteRecords -------------------------------------------------------------------------------

@api(21, 0, 2)
async def delete_records(conn, request) -> dict:
    topics = []
    changed = False
    for t in request.topics or []:
        partitions = []
        for p in t.partitions or []:
            partitions.append(out := {"partition_index": p.partition_index,
                                      "low_watermark": -1, "error_code": 0})
            if led_here(conn, t.name or "", p.partition_index, out) is None:
                continue
            if p.offset < -1:
                out["error_code"] = error_code("OFFSET_OUT_OF_RANGE")
                continue
            _, answer = conn.request({"type": "records.delete", "topic": t.name,
                                      "partition": p.partition_index, "offset": p.offset})
            if "error" in answer:
                out["error_code"] = error_code(answer["error"])
                continue
            out["low_watermark"] = answer["low_watermark"]
            changed = True
        topics.append({"name": t.name, "partitions": partitions})
    if changed:
        await conn.persist()
    return {"throttle_time_ms": 0, "topics": topics}


# -- DescribeCluster -----------------------------------------------------------------------------

@api(60, 0, 2)
async def describe_cluster(conn, request) -> dict:
    version = conn.header.api_version
    cluster = conn.room.cluster
    asked = bool(request.include_cluster_authorized_operations)
    endpoint = getattr(request, "endpoint_type", 1) if version >= 1 else 1
    base = {"throttle_time_ms": 0, "error_code": 0, "error_message": None,
            "endpoint_type": endpoint, "cluster_id": f"playground-{conn.listener.room_id}",
            "authorized_operations": CLUSTER_OPERATIONS if asked else NOT_ASKED}
    if endpoint != 1:
        # Only brokers answer here; Kafka's brokers say the same to a request meant for the
        # controllers (KIP-919).
        return {**base, "error_code": error_code("MISMATCHED_ENDPOINT_TYPE"),
                "error_message": "The request was sent to an endpoint of type BROKER, but we "
                                 "wanted an endpoint of type CONTROLLER", "controller_id": -1,
                "brokers": []}
    fenced = version >= 2 and bool(getattr(request, "include_fenced_brokers", False))
    brokers = []
    for b in reads.brokers(cluster):
        if b["registered"] or fenced:
            host, port = conn.listener.address(b["id"])
            brokers.append({"broker_id": b["id"], "host": host, "port": port, "rack": None,
                            "is_fenced": not b["registered"]})
    # KRaft: DescribeCluster's controller id is a random live broker for clients; here the
    # model's controller.
    controller = reads.controller(cluster)
    return {**base, "controller_id": -1 if controller is None else controller,
            "brokers": brokers}


# -- DescribeTopicPartitions ---------------------------------------------------------------------

# Kafka's max.request.partition.size.limit: the most partitions one answer carries.
PARTITION_LIMIT = 2000


@api(75, 0, 0)
async def describe_topic_partitions(conn, request) -> dict:
    """KIP-966's paged Metadata (what kafka-topics --describe and Kafka 4's Admin.describeTopics
    use): topics by name (all of them when none is named), partitions from the cursor on, at
    most response_partition_limit of them, and the cursor to go on from."""
    cluster = conn.room.cluster
    asked = sorted({t.name for t in request.topics or []}) or reads.topic_names(cluster)
    limit = max(1, min(request.response_partition_limit or PARTITION_LIMIT, PARTITION_LIMIT))
    cursor = request.cursor
    start_topic = cursor.topic_name if cursor is not None else None
    start_index = cursor.partition_index if cursor is not None else 0
    topics, left, next_cursor = [], limit, None
    for name in asked:
        if start_topic is not None and name < start_topic:
            continue
        topic = reads.topic(cluster, name)
        if topic is None:
            topics.append({"error_code": error_code("UNKNOWN_TOPIC_OR_PARTITION"), "name": name,
                           "topic_id": ZERO_UUID, "is_internal": False, "partitions": []})
            continue
        first = start_index if name == start_topic else 0
        partitions = []
        for part in topic["partitions"][first:]:
            if left == 0:
                next_cursor = {"topic_name": name, "partition_index": part["index"]}
                break
            leader = part["leader"]
            partitions.append({
                "error_code": 0 if leader is not None else error_code("LEADER_NOT_AVAILABLE"),
                "partition_index": part["index"], "leader_id": -1 if leader is None else leader,
                "leader_epoch": part["leader_epoch"], "replica_nodes": part["replicas"],
                "isr_nodes": part["isr"], "eligible_leader_replicas": [],
                "last_known_elr": [], "offline_replicas": part["offline_replicas"]})
            left -= 1
        topics.append({"error_code": 0, "name": name, "topic_id": topic_uuid(topic),
                       "is_internal": False, "partitions": partitions})
        if next_cursor is not None:
            break
    return {"throttle_time_ms": 0, "topics": topics, "next_cursor": next_cursor}
