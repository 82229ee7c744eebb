"""The group APIs for real clients: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit
and OffsetFetch.

Each handler turns the decoded request into one of broker_core's ``client.*`` commands
(classic.py), applies it through the room (so it enters the recording), and answers from the
model: at once, or, for JoinGroup and SyncGroup, once the group's events say the answer is
there (the join barrier fell, the leader's assignment arrived, or the member was removed).
A refusal is broker_core's GroupError, whose Kafka error name becomes the error code;
nothing changed in the model. OffsetFetch only reads.

Opaque bytes (members' metadata, assignments) travel base64 in commands; codec_groups decodes
the consumer protocol's topics and partitions for the page.
"""

import asyncio
import logging

from broker_core import CommandError, classic, reads

from . import codec_groups
from .codec import error_code
from .handlers import ZERO_UUID, api, named_topic, topic_id_of

log = logging.getLogger(__name__)

# Longest a JoinGroup/SyncGroup waits past the model's own deadline for it (the rebalance
# timeout always answers first; this only bounds a bug).
WAIT_SLACK_S = 5.0


def _refusal(conn, e: CommandError) -> str:
    """A GroupError's Kafka error. The room's recording being full (field ``command``) is
    COORDINATOR_NOT_AVAILABLE, which clients retry, and the page is told; any other
    CommandError is a request the model cannot take (values out of range): INVALID_REQUEST.
    Either way nothing changed."""
    if isinstance(e, classic.GroupError):
        return e.error
    if e.field == "command":
        conn.listener.recording_full()
        return "COORDINATOR_NOT_AVAILABLE"
    log.info("group request refused by the model: %s", e)
    return "INVALID_REQUEST"


def _coordinator_error(conn, group_id: str) -> str | None:
    if conn.listener.coordinator(group_id) != conn.broker:
        return "NOT_COORDINATOR"
    return None


async def _wait_for(conn, group_id: str, read, timeout_s: float):
    """Re-read `read()` whenever an event about the group arrives, until it answers."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    with conn.watch(lambda e: e.get("group") == group_id) as watch:
        while True:
            answer = read()
            if answer is not None:
                return answer
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            await watch.next(remaining)


# -- JoinGroup -----------------------------------------------------------------------------------

def _join_error(error: str, member_id: str, version: int) -> dict:
    return {"throttle_time_ms": 0, "error_code": error_code(error), "generation_id": -1,
            "protocol_type": None, "protocol_name": None if version >= 7 else "",
            "leader": "", "skip_assignment": False, "member_id": member_id, "members": []}


@api(11, 0, 9)
async def join_group(conn, request) -> dict:
    version = conn.header.api_version
    gid = request.group_id or ""
    member_id = request.member_id or ""
    error = _coordinator_error(conn, gid)
    if error:
        return _join_error(error, member_id, version)
    protocols = [{"name": p.name or "", "metadata": codec_groups.b64(p.metadata)}
                 for p in request.protocols or []]
    topics = []
    if request.protocol_type == codec_groups.CONSUMER_PROTOCOL_TYPE:
        for p in request.protocols or []:
            decoded = codec_groups.subscription_topics(p.metadata)
            if decoded is not None:
                topics = decoded
                break
    # JoinGroup v0 has no rebalance timeout: Kafka uses the session timeout for it.
    rebalance_ms = request.rebalance_timeout_ms if version >= 1 else request.session_timeout_ms
    command = {"type": "client.join_group", "group": gid, "member_id": member_id,
               "client_id": conn.client_id or "", "client_host": conn.peer,
               "protocol_type": request.protocol_type or "", "protocols": protocols,
               "topics": topics, "session_timeout_ms": request.session_timeout_ms,
               "rebalance_timeout_ms": max(rebalance_ms, 1),
               "require_known_member_id": version >= 4}
    _static(command, request, version, 5)
    if version >= 9 and "group_instance_id" in command:
        command["skip_assignment_ok"] = True
    try:
        _, joined = conn.request(command)
    except CommandError as e:
        return _join_error(_refusal(conn, e), member_id, version)
    await conn.persist()
    if joined["pending"]:
        return _join_error("MEMBER_ID_REQUIRED", joined["member_id"], version)
    member_id = joined["member_id"]
    cluster = conn.room.cluster
    answer = await _wait_for(conn, gid, lambda: reads.join_result(cluster, gid, member_id),
                             max(rebalance_ms, 0) / 1000 + WAIT_SLACK_S)
    if answer is None:
        log.warning("JoinGroup of %s in group %s was not answered in time", member_id, gid)
        return _join_error("REBALANCE_IN_PROGRESS", member_id, version)
    if answer["error"] != "NONE":
        return _join_error(answer["error"], member_id, version)
    return {"throttle_time_ms": 0, "error_code": 0, "generation_id": answer["generation"],
            "protocol_type": answer["protocol_type"], "protocol_name": answer["protocol_name"],
            "leader": answer["leader"],
            "skip_assignment": answer.get("skip_assignment", False),
            "member_id": answer["member_id"],
            "members": [{"member_id": m["member_id"], "group_instance_id": m.get("instance_id"),
                         "metadata": codec_groups.unb64(m["metadata"])}
                        for m in answer["members"]]}


def _static(command: dict, request, version: int, since: int) -> None:
    """A static member's group.instance.id (KIP-345; the request carries it from `since`)."""
    instance = getattr(request, "group_instance_id", None) if version >= since else None
    if instance is not None:
        command["group_instance_id"] = instance


# -- SyncGroup -----------------------------------------------------------------------------------

def _sync_answer(error: str, assignment: bytes = b"", protocol_type=None, protocol_name=None):
    return {"throttle_time_ms": 0, "error_code": error_code(error), "protocol_type": protocol_type,
            "protocol_name": protocol_name, "assignment": assignment}


@api(14, 0, 5)
async def sync_group(conn, request) -> dict:
    version = conn.header.api_version
    gid = request.group_id or ""
    member_id = request.member_id or ""
    error = _coordinator_error(conn, gid)
    if error:
        return _sync_answer(error)
    assignments = []
    for a in request.assignments or []:
        partitions = codec_groups.assignment_partitions(a.assignment)
        assignments.append({"member_id": a.member_id or "",
                            "assignment": codec_groups.b64(a.assignment),
                            "partitions": partitions or []})
    command = {"type": "client.sync_group", "group": gid, "member_id": member_id,
               "generation": request.generation_id, "assignments": assignments}
    _static(command, request, version, 3)
    if version >= 5:
        command["protocol_type"] = request.protocol_type
        command["protocol_name"] = request.protocol_name
    try:
        conn.apply(command)
    except CommandError as e:
        return _sync_answer(_refusal(conn, e))
    await conn.persist()
    cluster = conn.room.cluster
    timeout_s = reads.member_rebalance_timeout_ms(cluster, gid, member_id) / 1000 + WAIT_SLACK_S
    answer = await _wait_for(conn, gid, lambda: reads.sync_result(cluster, gid, member_id),
                             timeout_s)
    if answer is None:
        log.warning("SyncGroup of %s in group %s was not answered in time", member_id, gid)
        return _sync_answer("REBALANCE_IN_PROGRESS")
    return _sync_answer(answer["error"], codec_groups.unb64(answer["assignment"]),
                        *reads.group_protocol(cluster, gid))


# -- Heartbeat and LeaveGroup --------------------------------------------------------------------

@api(12, 0, 4)
async def heartbeat(conn, request) -> dict:
    gid = request.group_id or ""
    error = _coordinator_error(conn, gid)
    if error is None:
        try:
            command = {"type": "client.heartbeat", "group": gid,
                       "member_id": request.member_id or "",
                       "generation": request.generation_id}
            _static(command, request, conn.header.api_version, 3)
            _, answer = conn.request(command)
            error = answer["error"]
        except CommandError as e:
            error = _refusal(conn, e)
    return {"throttle_time_ms": 0, "error_code": error_code(error)}


@api(13, 0, 5)
async def leave_group(conn, request) -> dict:
    version = conn.header.api_version
    gid = request.group_id or ""
    if version >= 3:
        identities = [(m.member_id or "", m.group_instance_id) for m in request.members or []]
    else:
        identities = [(request.member_id or "", None)]
    ids = [mid for mid, _ in identities]
    error = _coordinator_error(conn, gid)
    if error:
        return {"throttle_time_ms": 0, "error_code": error_code(error), "members": []}
    errors = {}
    top = "NONE"
    command = {"type": "client.leave_group", "group": gid, "members": ids}
    if any(instance is not None for _, instance in identities):
        command["instances"] = [instance for _, instance in identities]
    try:
        _, answer = conn.request(command)
        errors = answer["errors"]
        await conn.persist()
    except CommandError as e:
        top = _refusal(conn, e)
        if top in ("UNKNOWN_MEMBER_ID", "FENCED_INSTANCE_ID") and version >= 3:
            top = "NONE"  # v3+: each member's own error says it
    if version < 3:
        return {"throttle_time_ms": 0, "error_code": error_code(errors[ids[0]] if top == "NONE"
                                                                else top)}
    return {"throttle_time_ms": 0, "error_code": error_code(top),
            "members": [{"member_id": mid, "group_instance_id": instance,
                         "error_code": error_code(errors.get(mid or instance,
                                                             "UNKNOWN_MEMBER_ID"))}
                        for mid, instance in identities]}


# -- offsets -------------------------------------------------------------------------------------

@api(8, 2, 10)
async def offset_commit(conn, request) -> dict:
    version = conn.header.api_version
    gid = request.group_id or ""
    topics = request.topics or []
    offsets = []
    # v10 names topics by id; an id no topic has is UNKNOWN_TOPIC_ID for its partitions.
    names = [named_topic(conn, t.name, getattr(t, "topic_id", None) if version >= 10
                         else None) for t in topics]
    for t, name in zip(topics, names, strict=True):
        if name is None:
            continue
        for p in t.partitions or []:
            entry = {"topic": name, "partition": p.partition_index,
                     "offset": p.committed_offset, "metadata": p.committed_metadata or ""}
            if version >= 6:
                entry["leader_epoch"] = p.committed_leader_epoch
            offsets.append(entry)
    error = _coordinator_error(conn, gid)
    each = ["NONE"] * len(offsets)
    if error is None:
        try:
            command = {"type": "client.commit_offsets", "group": gid,
                       "member_id": request.member_id or "",
                       "generation": request.generation_id_or_member_epoch,
                       "offsets": offsets}
            _static(command, request, version, 7)
            _, answer = conn.request(command)
            each = answer["errors"]
            await conn.persist()
        except CommandError as e:
            error = _refusal(conn, e)
    errors = iter(each)  # one per offset sent to the model, in the request's order
    return {"throttle_time_ms": 0, "topics": [
        {"name": t.name, "topic_id": getattr(t, "topic_id", None) or ZERO_UUID, "partitions": [
            {"partition_index": p.partition_index,
             "error_code": error_code("UNKNOWN_TOPIC_ID" if name is None
                                      else error or next(errors))}
            for p in t.partitions or []]}
        for t, name in zip(topics, names, strict=True)]}


def _fetched_topics(conn, gid: str, topics, by_id: bool = False) -> list[dict]:
    """OffsetFetch's topics; `by_id` (v10): the request names topics by id, the answer too."""
    cluster = conn.room.cluster
    wanted = None
    unknown = []
    if topics is not None:
        wanted = []
        for t in topics:
            name = named_topic(conn, t.name, getattr(t, "topic_id", None) if by_id else None)
            if name is None:
                unknown.append(t)
                continue
            wanted += [(name, index) for index in t.partition_indexes or []]
    by_topic: dict[str, list] = {}
    for row in reads.committed_offsets(cluster, gid, wanted):
        by_topic.setdefault(row["topic"], []).append(
            {"partition_index": row["partition"], "committed_offset": row["offset"],
             "committed_leader_epoch": row["leader_epoch"], "metadata": row["metadata"],
             "error_code": 0})
    out = [{"name": name, "partitions": parts} for name, parts in by_topic.items()]
    if by_id:
        for row in out:
            row["topic_id"] = topic_id_of(conn, row["name"])
    for t in unknown:
        out.append({"name": t.name, "topic_id": t.topic_id, "partitions": [
            {"partition_index": i, "committed_offset": -1, "committed_leader_epoch": -1,
             "metadata": "", "error_code": error_code("UNKNOWN_TOPIC_ID")}
            for i in t.partition_indexes or []]})
    return out


@api(9, 1, 10)
async def offset_fetch(conn, request) -> dict:
    version = conn.header.api_version
    if version >= 8:
        groups = []
        for g in request.groups or []:
            gid = g.group_id or ""
            error = _coordinator_error(conn, gid)
            groups.append({"group_id": gid, "error_code": error_code(error or "NONE"),
                           "topics": [] if error else _fetched_topics(conn, gid, g.topics,
                                                                      by_id=version >= 10)})
        return {"throttle_time_ms": 0, "groups": groups}
    gid = request.group_id or ""
    error = _coordinator_error(conn, gid)
    if error:
        # v1 has no top-level error: each partition asked for carries it.
        return {"throttle_time_ms": 0, "error_code": error_code(error), "topics": [
            {"name": t.name, "partitions": [
                {"partition_index": i, "committed_offset": -1, "committed_leader_epoch": -1,
                 "metadata": "", "error_code": error_code(error)}
                for i in t.partition_indexes or []]}
            for t in request.topics or []]}
    return {"throttle_time_ms": 0, "error_code": 0,
            "topics": _fetched_topics(conn, gid, request.topics)}
