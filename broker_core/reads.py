"""The model's read path: what hosts (the wire listener, tests, tools) read of a cluster
without a command and without an event. Each function takes the cluster and returns plain data
(dicts, tuples, lists of numbers and strings), never the model's own objects, so that a host
neither depends on how partitions and logs are kept nor changes them by mistake."""

from bisect import bisect_left

from .coordinator import CLIENTS
from .log import NO_CREATE_TIME


def _part(cluster, topic: str, index: int):
    t = cluster.topics.get(topic)
    if t is None or not 0 <= index < len(t.partitions):
        return None
    return t.partitions[index]


def _partition_row(cluster, part) -> dict:
    log = part.leader_log
    return {"topic": part.topic.name, "index": part.index, "leader": part.leader,
            "leader_epoch": part.leader_epoch, "online": part.online,
            "replicas": list(part.replicas), "isr": list(part.isr),
            "offline_replicas": [r for r in part.replicas if not cluster.brokers[r]["up"]],
            "high_watermark": part.high_watermark, "log_start_offset": log.start_offset,
            "log_end_offset": log.end_offset}


def partition(cluster, topic: str, index: int) -> dict | None:
    """One partition as its leader sees it: {"topic", "index", "leader" (None: offline),
    "leader_epoch", "online", "replicas", "isr", "offline_replicas", "high_watermark",
    "log_start_offset", "log_end_offset"}; None if there is no such partition."""
    part = _part(cluster, topic, index)
    return None if part is None else _partition_row(cluster, part)


def topic_names(cluster) -> list[str]:
    return sorted(cluster.topics)


def topic(cluster, name: str) -> dict | None:
    """{"name", "id" (the model numbers topics 1, 2, 3, ...), "config", "replication_factor",
    "partitions": [each as partition() gives it]}; None if there is no such topic."""
    t = cluster.topics.get(name)
    if t is None:
        return None
    return {"name": t.name, "id": t.topic_id, "config": dict(t.config),
            "replication_factor": t.replication_factor,
            "partitions": [_partition_row(cluster, part) for part in t.partitions]}


def has_topic(cluster, name: str) -> bool:
    return name in cluster.topics


def topic_ids(cluster) -> dict[int, str]:
    """Topic id -> name."""
    return {t.topic_id: name for name, t in cluster.topics.items()}


def topic_id(cluster, name: str) -> int | None:
    t = cluster.topics.get(name)
    return None if t is None else t.topic_id


def topic_named_by_id(cluster, topic_id: int) -> str | None:
    """The name of the topic with this id, or None (a search: a room has a few dozen)."""
    return next((name for name, t in cluster.topics.items() if t.topic_id == topic_id), None)


def brokers(cluster) -> list[dict]:
    """Every broker in id order: {"id", "up", "registered"} (registered: its ZooKeeper session
    is open, so Metadata lists it)."""
    return [{"id": b, "up": cluster.brokers[b]["up"],
             "registered": cluster.brokers[b]["registered"]} for b in sorted(cluster.brokers)]


def broker_up(cluster, b: int) -> bool:
    return b in cluster.brokers and cluster.brokers[b]["up"]


def controller(cluster) -> int | None:
    return cluster.controller


def broker_config(cluster) -> dict:
    """The cluster's broker settings (num.partitions, auto.create.topics.enable, ...)."""
    return dict(cluster.config)


def end_offset_for_epoch(cluster, topic: str, index: int, epoch: int) -> tuple[int, int]:
    """OffsetForLeaderEpoch on the leader's log: (the largest epoch at most `epoch`, the end
    offset of that epoch)."""
    return _part(cluster, topic, index).leader_log.end_offset_for_epoch(epoch)


def group_protocol(cluster, gid: str) -> tuple[str | None, str | None]:
    """A group's (protocol type, chosen protocol): what SyncGroup v5 echoes."""
    group = cluster.groups.get(gid)
    if group is None or group.kind != CLIENTS:
        return None, None
    return group.protocol_type, group.protocol_name


def member_rebalance_timeout_ms(cluster, gid: str, member_id: str) -> int:
    """A real client's rebalance timeout (0 when it is not a member): how long its SyncGroup
    may wait for the leader's assignment."""
    member = _client_member(cluster, gid, member_id)
    return member.rebalance_timeout_ms if member is not None else 0


def records(cluster, topic: str, index: int, offset: int, max_bytes: int,
            max_records: int = 100_000) -> dict:
    """What a consumer's fetch from the leader gets: records from `offset` below the high
    watermark, at least one even if larger than `max_bytes` (KIP-74), then while they fit:
    ``records`` (offset, key, value, headers, model time), and ``create_times``: None, or one
    per record, the client's own timestamp or None (a record the model wrote).
    ``error`` is None, UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE or
    OFFSET_OUT_OF_RANGE (before the log start, or past the log end)."""
    part = _part(cluster, topic, index)
    if part is None:
        return {"error": "UNKNOWN_TOPIC_OR_PARTITION", "records": []}
    log = part.leader_log
    out = {"error": None, "high_watermark": part.high_watermark,
           "log_start_offset": log.start_offset, "leader": part.leader,
           "leader_epoch": part.leader_epoch, "records": [], "create_times": None}
    if part.leader is None or not part.online:
        out["error"] = "LEADER_NOT_AVAILABLE"
        return out
    if offset < log.start_offset or offset > log.end_offset:
        out["error"] = "OFFSET_OUT_OF_RANGE"
        return out
    end = min(part.high_watermark, offset + max_records)
    base = log.base
    sizes = log.sizes
    records = out["records"]
    total = 0
    headers = log.headers
    for o in range(offset, end):
        i = o - base
        size = sizes[i]
        if records and total + size > max_bytes:
            break
        total += size
        records.append((o, log.keys[i], log.values[i], headers.get(o) if headers else None,
                        log.timestamps[i]))
    if log.create_times is not None and records:
        out["create_times"] = [log.create_time_at(r[0]) for r in records]
    return out


def offset_for(cluster, topic: str, index: int, timestamp: int, epoch_ms: int = 0) -> tuple:
    """ListOffsets: (error, offset, timestamp, leader_epoch). `timestamp` -2 = earliest (and
    -4, the earliest local offset: every record is local), -1 = latest (the high watermark),
    -3 = the record with the largest timestamp, -5 / -6 (latest tiered, earliest pending
    upload: there is no remote storage) offset -1, as Kafka answers without it, else the
    first record (below the high watermark) whose timestamp is at or after it (-1 when none).
    A record's timestamp is its client's create time when it has one, else its model time +
    `epoch_ms` (a host's wall clock at model time 0)."""
    part = _part(cluster, topic, index)
    if part is None:
        return "UNKNOWN_TOPIC_OR_PARTITION", -1, -1, -1
    if part.leader is None or not part.online:
        return "LEADER_NOT_AVAILABLE", -1, -1, -1
    log = part.leader_log
    hw = part.high_watermark
    if timestamp in (-2, -4):
        return None, log.start_offset, -1, part.leader_epoch
    if timestamp in (-5, -6):
        return None, -1, -1, -1
    if timestamp == -1:
        return None, hw, -1, part.leader_epoch
    stamps = log.timestamps
    lo, hi = log.start_offset - log.base, hw - log.base
    if log.create_times is not None:
        return _offset_for_create_times(part, log, lo, hi, timestamp, epoch_ms)
    if timestamp == -3:
        if hi <= lo:
            return None, -1, -1, part.leader_epoch
        # Append times never decrease, so the last record has the largest.
        return None, hw - 1, stamps[hi - 1] + epoch_ms, part.leader_epoch
    # Append times never decrease: the first at or after `timestamp` (in model time; one
    # before the model's start is its start, never a sentinel).
    lo = bisect_left(stamps, max(0, timestamp - epoch_ms), lo, hi)
    if lo >= hw - log.base:
        return None, -1, -1, part.leader_epoch
    return None, log.base + lo, stamps[lo] + epoch_ms, part.leader_epoch


def _offset_for_create_times(part, log, lo: int, hi: int, timestamp: int,
                             epoch_ms: int) -> tuple:
    """Clients' create times need not increase along the log: as Kafka does, the first record
    at or after `timestamp`, and for -3 the first record with the largest timestamp. A scan
    over what the leader retains (retained.records.max bounds it)."""
    created, stamps = log.create_times, log.timestamps
    best, best_at = -1, -1
    for i in range(lo, hi):
        t = created[i]
        if t == NO_CREATE_TIME:
            t = stamps[i] + epoch_ms
        if timestamp == -3:
            if t > best:
                best, best_at = t, i
        elif t >= timestamp:
            return None, log.base + i, t, part.leader_epoch
    if best_at < 0:
        return None, -1, -1, part.leader_epoch
    return None, log.base + best_at, best, part.leader_epoch


# -- groups: what ListGroups and DescribeGroups show ---------------------------------------------

def group_ids(cluster) -> list[dict]:
    """Every group, by id: {"group", "protocol_type" ("consumer" for modelled groups; what
    real clients declared, "" before any joined), "state"}."""
    return [{"group": gid, "protocol_type": _protocol_type(g), "state": g.state}
            for gid, g in sorted(cluster.groups.items())]


def _protocol_type(group) -> str:
    return (group.protocol_type or "") if group.kind == CLIENTS else "consumer"


def group(cluster, gid: str) -> dict | None:
    """One group as Kafka's DescribeGroups shows it, or None: {"group", "state",
    "protocol_type", "protocol" (the chosen protocol or assignor; "" unless Stable, as Kafka
    says), "members": [{"member_id", "instance_id", "client_id", "client_host", and, only
    while Stable, "metadata"/"assignment" (base64, a real client's own bytes) or "topics"/
    "partitions" (a modelled consumer's subscription and [topic, partition] pairs)}]}."""
    g = cluster.groups.get(gid)
    if g is None:
        return None
    stable = g.state == "Stable"
    client = g.kind == CLIENTS
    protocol = ((g.protocol_name or "") if client else g.config["assignor"]) if stable else ""
    members = []
    for mid, m in g.members.items():
        row = {"member_id": mid, "instance_id": m.instance_id if client else None,
               "client_id": m.client_id if client else mid,
               "client_host": m.client_host if client else "model"}
        if stable and client:
            row.update(metadata=m.metadata(protocol), assignment=m.assignment)
        elif stable:
            row.update(topics=list(m.topics),
                       partitions=[[p.topic.name, p.index] for p in m.owned])
        members.append(row)
    return {"group": gid, "state": g.state, "protocol_type": _protocol_type(g),
            "protocol": protocol, "members": members}


# -- groups of real clients (classic.py): the answers that come after a barrier, and offsets

def _client_member(cluster, gid: str, member_id: str):
    """A real client's member of a group of real clients, or None."""
    group = cluster.groups.get(gid)
    return group.members.get(member_id) if group is not None and group.kind == CLIENTS \
        else None


def join_result(cluster, gid: str, member_id: str) -> dict | None:
    """The JoinGroup answer for `member_id`: a dict, or None while it still waits. A member
    that is gone is answered UNKNOWN_MEMBER_ID, as Kafka answers a removed member's join."""
    member = _client_member(cluster, gid, member_id)
    if member is None:
        return {"error": "UNKNOWN_MEMBER_ID", "member_id": member_id, "generation": -1,
                "protocol_type": None, "protocol_name": None, "leader": "", "members": []}
    return member.join_answer


def sync_result(cluster, gid: str, member_id: str) -> dict | None:
    member = _client_member(cluster, gid, member_id)
    if member is None:
        return {"error": "UNKNOWN_MEMBER_ID", "assignment": ""}
    return member.sync_answer


def committed_offsets(cluster, gid: str, wanted: list | None) -> list[dict]:
    """OffsetFetch: every committed offset of the group (wanted None) or those asked for; -1
    where nothing is committed. A read: it changes nothing and is not a command."""
    group = cluster.groups.get(gid)
    if group is None:
        return [{"topic": topic, "partition": index, "offset": -1, "metadata": "",
                 "leader_epoch": -1} for topic, index in (wanted or ())]
    return group.offsets.fetch(wanted)
