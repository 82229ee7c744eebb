"""Groups of real Kafka clients: the classic group protocol, driven by their requests.

Theory of operation
-------------------
A group in `group.py` is made of modelled consumers: the coordinator decides when each one
rejoins and runs the assignor itself. A `ClientGroup` is made of real clients (kafka-python,
aiokafka, librdkafka) speaking Kafka's wire protocol: every JoinGroup, SyncGroup, Heartbeat,
LeaveGroup and OffsetCommit they send arrives here as a command (``client.join_group`` …),
through the room, so a room with real clients replays from its command log like any other.
The coordinator only answers; the clients' leader chooses the assignment. What it may not
know (what a client does with its partitions) it does not pretend to.

The coordinator is Kafka's ClassicGroup, on the model's virtual clock (the room runs at 1×
while real clients are connected, so virtual time is wall time):

    Empty --JoinGroup--> PreparingRebalance --every member joined, or--> CompletingRebalance
      ^                     |     ^            the rebalance timeout         |
      +----no members-------+     +--- join, leave, expiry, new metadata ----+--leader's
                                                                               SyncGroup
                                                                                  v
                                                                                Stable

- **JoinGroup.** A newcomer (empty member id) gets an id, ``<client.id>-<uuid>`` drawn from
  the seed. From JoinGroup v4 on it must come back with it (``MEMBER_ID_REQUIRED``); until
  then it is a *pending* member, forgotten after its session timeout, and the join barrier
  waits for it. A join starts a rebalance unless one is under way; a rebalance of an Empty
  group first waits ``group.initial.rebalance.delay.ms`` (extended for each newcomer, up to
  the rebalance timeout). Otherwise the barrier falls when every member has sent JoinGroup,
  or at the rebalance timeout (the largest any member asked for), when those that did not
  rejoin are removed. Then the generation goes up, the protocol (assignor) most members
  prefer among those all support is chosen, and each waiting member is answered: the
  leader (the first member to join, or if it did not rejoin the first that did) with every
  member's subscription. A follower whose metadata did not change, joining a Stable group,
  is answered at once with the current generation; the leader's JoinGroup always starts a
  rebalance (that is how a client leader picks up new partitions).
- **SyncGroup.** In CompletingRebalance a member waits for the leader's; the leader's carries
  the assignment (opaque bytes, plus the partitions the adapter decoded from them, which is
  what the page shows). It is handed out, the group is Stable, and `group.rebalance_completed`
  names what each member got, followed by `partition.revoked` / `partition.assigned` for what
  changed. A member that has not sent SyncGroup within the rebalance timeout is removed.
- **Heartbeat.** Keeps the member's session (``session_timeout_ms``) alive; answered
  ``REBALANCE_IN_PROGRESS`` while the group prepares a rebalance, which is how the other
  members learn to rejoin. A member waiting for its JoinGroup or SyncGroup answer is alive
  (Kafka's ``shouldKeepAlive``); a new member waiting for its first JoinGroup answer gives up
  after 5 minutes.
- **Ownership.** The coordinator sees partitions change hands only through assignments: with
  an eager protocol (range, roundrobin, sticky) a member that rejoins has given everything
  up first (`partition.revoked` at its JoinGroup); with cooperative-sticky only what the next
  assignment takes away is revoked.
- **Offsets** live in the same kind of store as the modelled groups' (`offsets.Offsets`), so
  lag shows on the page. A commit with generation -1 (a consumer that assigns itself partitions)
  is accepted while the group is Empty, and creates the group if needed.

A `ClientGroup` is a driver of the coordinator core (coordinator.py), as the modelled `Group` is
another: it HAS a `Coordinator` (state, generation, leader, members, the join timer) and an
`Offsets` store, and its requests' signatures are its own. What a state answers a Heartbeat,
SyncGroup or OffsetCommit is the core's table (`STATE_ANSWERS`).

A refused request changes nothing: it raises `GroupError`, a `CommandError` that also carries
Kafka's error name for the wire answer. Answers a request waits for (JoinGroup, SyncGroup)
are kept on the member (`join_result`, `sync_result` read them) and announced by the group's
events; the adapter looks again whenever events about the group arrive.
"""

import base64
import binascii
import uuid

from . import events as ev
from . import validate as v
from .assignors import PROTOCOL
from .coordinator import (
    CLIENTS,
    COMPLETING,
    DEAD,
    EMPTY,
    MODELLED,
    PREPARING,
    STABLE,
    Coordinator,
    GroupError,
)
from .errors import CommandError
from .group import GROUP_DEFAULTS, _tp
from .offsets import Offsets, sorted_parts

MIN_SESSION_TIMEOUT_MS = 6_000        # group.min.session.timeout.ms
MAX_SESSION_TIMEOUT_MS = 1_800_000    # group.max.session.timeout.ms
NEW_MEMBER_JOIN_TIMEOUT_MS = 300_000  # Kafka's NewMemberJoinTimeoutMs
MAX_REBALANCE_TIMEOUT_MS = 2_147_483_647
MAX_MEMBERS = 1_000                   # group.max.size is unlimited in Kafka; a room's is not
MAX_PROTOCOLS = 32
MAX_OPAQUE_CHARS = 262_144            # base64 of a member's metadata or assignment
MAX_TEXT = 255
OFFSET_METADATA_MAX = 4_096           # offset.metadata.max.bytes
MAX_OFFSETS = 10_000
MAX_OFFSET = 2**63 - 1

CLIENT_COMMANDS = {
    "client.join_group": "A real client's JoinGroup: group, member_id ('' for a newcomer), "
                         "client_id, client_host, protocol_type, protocols, topics, "
                         "session_timeout_ms, rebalance_timeout_ms, require_known_member_id.",
    "client.sync_group": "A real client's SyncGroup: group, member_id, generation, and from "
                         "the leader the assignments (bytes and decoded partitions).",
    "client.heartbeat": "A real client's Heartbeat: group, member_id, generation.",
    "client.leave_group": "A real client's LeaveGroup: group, members (member ids).",
    "client.commit_offsets": "A real client's OffsetCommit: group, member_id, generation (-1: "
                             "not a group member), offsets.",
}


# -- field readers -------------------------------------------------------------------------------

def _text(c: dict, name: str, *, allow_empty=True, default=None, prefix="") -> str:
    value = c.get(name, default)
    if not isinstance(value, str):
        raise CommandError(prefix + name, "must be a string")
    if len(value) > MAX_TEXT or not value.isprintable() or (not allow_empty and not value):
        raise CommandError(prefix + name, f"must be {'1' if not allow_empty else '0'}-"
                           f"{MAX_TEXT} printable characters")
    return value


def _opaque(c: dict, name: str, prefix="") -> str:
    """Opaque bytes (member metadata, assignments) travel as base64 text."""
    value = c.get(name, "")
    if not isinstance(value, str) or len(value) > MAX_OPAQUE_CHARS:
        raise CommandError(prefix + name, f"must be base64 text of at most {MAX_OPAQUE_CHARS:,} "
                           "characters")
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CommandError(prefix + name, "must be base64") from None
    return value


def _group_id(c: dict) -> str:
    try:
        return v.identifier(c, "group", what="group id")
    except CommandError as e:
        raise GroupError("group", e.message, "INVALID_GROUP_ID") from None


def _topic_partitions(value, field: str) -> list[tuple[str, int]]:
    if not isinstance(value, list) or len(value) > MAX_OFFSETS:
        raise CommandError(field, f"must be a list of at most {MAX_OFFSETS:,} [topic, partition]")
    out = []
    for i, item in enumerate(value):
        if (not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str)
                or isinstance(item[1], bool) or not isinstance(item[1], int)
                or not 0 <= item[1] < 1_000_000 or len(item[0]) > 249):
            raise CommandError(f"{field}[{i}]", "must be [topic, partition]")
        out.append((item[0], item[1]))
    return out


# -- the members ---------------------------------------------------------------------------------

class ClientMember:
    """One real client in a group. Has what coordinator.ConsumerGroup promises of any member
    (`id`, `topics`, `declared`, `owned`, `state()`); a real client keeps its own positions,
    and the model never reads them."""

    def __init__(self, group: "ClientGroup", member_id: str, c: dict, now_ms: int):
        self.group = group
        self.id = member_id
        self.client_id = c["client_id"]
        self.client_host = c["client_host"]
        self.instance_id = c.get("group_instance_id")  # KIP-345 static membership, or None
        self.joined_ms = now_ms
        self.owned: list = []
        self.assignment = ""        # base64 bytes the leader gave it this generation
        self.new = True
        self.awaiting_join = True
        self.awaiting_sync = False
        self.join_answer = None     # dict once the JoinGroup it waits for is answered
        self.sync_answer = None
        self.expiry_timer = None
        self.last_heartbeat_ms = now_ms
        self.update(c)

    def update(self, c: dict) -> None:
        self.protocol_type = c["protocol_type"]
        self.protocols = [(p["name"], p["metadata"]) for p in c["protocols"]]
        self.topics = sorted(set(c["topics"]))
        self.declared = self.topics
        self.session_timeout_ms = c["session_timeout_ms"]
        self.rebalance_timeout_ms = c["rebalance_timeout_ms"]

    @property
    def client(self) -> str:
        return f"{self.client_id}@{self.client_host}"

    def matches(self, c: dict) -> bool:
        return self.protocols == [(p["name"], p["metadata"]) for p in c["protocols"]]

    def metadata(self, protocol: str) -> str:
        return next(m for name, m in self.protocols if name == protocol)

    def give_up(self, parts: list) -> None:
        for part in parts:
            self.owned.remove(part)

    def cancel_timers(self) -> None:
        if self.expiry_timer is not None:
            self.expiry_timer.cancel()
            self.expiry_timer = None

    def state(self) -> dict:
        if self.awaiting_join:
            waiting = "join"
        elif self.awaiting_sync:
            waiting = "sync"
        else:
            waiting = None
        return {
            "kind": "client",
            "client": self.client,
            **({"instance_id": self.instance_id} if self.instance_id is not None else {}),
            "topics": list(self.topics),
            "declared_topics": list(self.topics),
            "protocols": [name for name, _ in self.protocols],
            "session_timeout_ms": self.session_timeout_ms,
            "rebalance_timeout_ms": self.rebalance_timeout_ms,
            "status": "live",
            "waiting": waiting,
            "joined_ms": self.joined_ms,
            "last_heartbeat_ms": self.last_heartbeat_ms,
            "partitions": [_tp(p) for p in self.owned],
            "positions": [],
            "in_flight": None,
        }


# -- the group -----------------------------------------------------------------------------------

class ClientGroup:
    """A group of real clients: it only answers their requests. It HAS a coordinator core and
    an offsets store (see coordinator.py's `ConsumerGroup` for what every group offers)."""

    kind = CLIENTS
    external = True

    def __init__(self, cluster, group_id: str, config: dict, offsets: Offsets | None = None,
                 generation: int = 0, next_member_number: int = 1):
        self.cluster = cluster
        self.id = group_id
        # The modelled groups' settings, unused while clients hold the group: kept so that a
        # modelled consumer taking it over later (convert) finds them.
        self.config = config
        self.core = Coordinator(cluster, group_id, self._complete_join, generation,
                                next_member_number)
        self.offsets = offsets if offsets is not None else Offsets(cluster, group_id)
        self.protocol_type: str | None = None
        self.protocol_name: str | None = None
        self.pending: dict = {}        # member id -> expiry timer (MEMBER_ID_REQUIRED sent)
        self.pending_sync: set = set()
        self.sync_timer = None
        self.static: dict[str, str] = {}  # group.instance.id -> its member's current id

    # -- what every group shows (coordinator.ConsumerGroup) -----------------------------------

    @property
    def state(self) -> str:
        return self.core.state

    @property
    def generation(self) -> int:
        return self.core.generation

    @property
    def leader(self) -> str | None:
        return self.core.leader

    @property
    def members(self) -> dict[str, ClientMember]:  # in join order
        return self.core.members

    @property
    def committed(self) -> dict:
        return self.offsets.committed

    @property
    def occupied(self) -> bool:
        return bool(self.core.members or self.pending)

    def delete(self) -> None:
        self.discard()
        self.core.transition(DEAD)

    def subscribed_topics(self) -> list[str]:
        return self.core.subscribed_topics()

    def topic_changed(self, reason: str) -> None:
        """A subscribed topic appeared, disappeared or grew. Nothing here: a client group
        starts rebalancing when its clients say so (the leader's client sees the new metadata
        and rejoins), never on the model's initiative."""

    def resubscribe(self) -> None:
        """The delivery policy changed. Nothing here: real clients choose their own
        subscriptions, and a client group forwards nothing to retry topics."""

    def log_truncated(self, part) -> None:
        """A leader change cut `part`'s log back. Nothing here: a real client detects it by
        leader epoch (KIP-320) and the coordinator keeps no positions."""

    def forget_partitions(self, parts: list) -> None:
        """A topic was deleted: its partitions leave every member and the offset table."""
        doomed = set(parts)
        for member in self.core.members.values():
            lost = [p for p in member.owned if p in doomed]
            if lost:
                self._revoke(member, lost, "topic deleted")
        self.offsets.forget(parts)

    def lag_rows(self) -> list[dict]:
        owners = {}
        for member in self.core.members.values():
            for part in member.owned:
                owners[part] = member
        # A real client keeps its position to itself: lag counts from the committed offset.
        return self.offsets.lag_rows(self.subscribed_topics(), owners, _unknown_position,
                                     self.config["auto_offset_reset"])

    @property
    def protocol(self) -> str:
        return PROTOCOL.get(self.protocol_name or "", "eager")

    # -- what the members support --------------------------------------------------------------

    def candidates(self) -> list[str]:
        """Protocols every member supports, in the first member's order of preference."""
        members = list(self.members.values())
        if not members:
            return []
        common = set.intersection(*({name for name, _ in m.protocols} for m in members))
        return [name for name, _ in members[0].protocols if name in common]

    def supports(self, protocol_type: str, names: list[str]) -> bool:
        if not self.members:
            return bool(protocol_type) and bool(names)
        return protocol_type == self.protocol_type and bool(set(names) & set(self.candidates()))

    def select_protocol(self) -> str:
        """Each member votes for the first protocol it lists that all support; most votes
        wins, a tie going to the first member's preference."""
        candidates = self.candidates()
        votes = {name: 0 for name in candidates}
        for member in self.members.values():
            votes[next(name for name, _ in member.protocols if name in votes)] += 1
        return max(candidates, key=lambda name: votes[name])  # max keeps the first of a tie

    def rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    # -- requests ------------------------------------------------------------------------------

    def join(self, c: dict) -> dict:
        """JoinGroup (validated). Raises GroupError before any change. Answers at once with
        {"member_id", "pending"}: pending, the id a new member must join again with
        (MEMBER_ID_REQUIRED, KIP-394); else the member is in and its full answer comes when
        the join completes (join_result)."""
        mid = c["member_id"]
        instance = c.get("group_instance_id")
        names = [p["name"] for p in c["protocols"]]
        if instance is not None and mid:
            self._check_instance(instance, mid)
        elif mid and mid not in self.members and mid not in self.pending:
            raise GroupError("member_id", f"group {self.id!r} has no member {mid!r}",
                             "UNKNOWN_MEMBER_ID")
        if not self.supports(c["protocol_type"], names):
            raise GroupError("protocols", f"none of {names} is supported by every member of "
                             f"group {self.id!r} (protocol type {self.protocol_type!r})",
                             "INCONSISTENT_GROUP_PROTOCOL")
        if mid in self.members:
            self._rejoin(self.members[mid], c)
            return {"member_id": mid, "pending": False}
        if instance is not None and instance in self.static:
            # A static member restarted (it lost its member id): it takes its old place.
            return {"member_id": self._replace_static(self.members[self.static[instance]], c),
                    "pending": False}
        if not mid and len(self.members) + len(self.pending) >= MAX_MEMBERS:
            raise GroupError("group", f"group {self.id!r} has {MAX_MEMBERS} members already",
                             "GROUP_MAX_SIZE_REACHED")
        cluster = self.cluster
        if mid:
            self.pending.pop(mid).cancel()
        else:
            suffix = uuid.UUID(int=cluster.member_ids.getrandbits(128), version=4)
            mid = f"{c['client_id']}-{suffix}"
            # KIP-394's extra round trip is for dynamic members: a static one is known by its
            # instance id, so it joins at once (Kafka's doStaticNewMemberJoinGroup).
            if c["require_known_member_id"] and instance is None:
                expires = cluster.clock.now_ms + c["session_timeout_ms"]
                self.pending[mid] = cluster.clock.at(expires, self._pending_expired, mid)
                ev.group_member_pending(cluster, group=self.id, consumer=mid,
                                        client=f"{c['client_id']}@{c['client_host']}",
                                        expires_ms=expires)
                return {"member_id": mid, "pending": True}
        self._add(mid, c)
        return {"member_id": mid, "pending": False}

    def _add(self, mid: str, c: dict) -> None:
        cluster = self.cluster
        now = cluster.clock.now_ms
        member = ClientMember(self, mid, c, now)
        if member.instance_id is not None:
            self.static[member.instance_id] = mid
        core = self.core
        if not core.members:
            self.protocol_type = member.protocol_type
        if core.state == PREPARING:
            core.newcomer_during_delay()
        core.members[mid] = member
        if core.leader is None:
            core.leader = mid
        # A new member cannot heartbeat before its first answer; if it never comes back for
        # it, it goes after NEW_MEMBER_JOIN_TIMEOUT_MS.
        member.expiry_timer = cluster.clock.at(now + NEW_MEMBER_JOIN_TIMEOUT_MS, self._expired,
                                               member)
        ev.group_member_joined(cluster, group=self.id, consumer=mid, kind="client",
                               client=member.client, topics=list(member.topics),
                               protocols=[name for name, _ in member.protocols],
                               generation=self.generation,
                               **({"instance_id": member.instance_id}
                                  if member.instance_id is not None else {}))
        self._maybe_prepare(f"member {mid} joined")
        self._try_complete_join()

    def _check_instance(self, instance: str, mid: str) -> None:
        """A request naming both a static member's instance id and a member id: the id must
        be the instance's current one. An older one belongs to a process the instance's
        restart replaced (Kafka's FENCED_INSTANCE_ID: that process must stop)."""
        current = self.static.get(instance)
        if current is None:
            raise GroupError("member_id", f"group {self.id!r} has no static member "
                             f"{instance!r}", "UNKNOWN_MEMBER_ID")
        if current != mid:
            raise GroupError("group_instance_id", f"static member {instance!r} is now "
                             f"{current!r}, not {mid!r}", "FENCED_INSTANCE_ID")

    def _replace_static(self, old: ClientMember, c: dict) -> str:
        """KIP-345: a static member that restarts (JoinGroup with its instance id and no member
        id) takes its old place under a new member id, keeping its partitions. A Stable group
        whose chosen protocol this does not change answers at once with the current generation
        and no rebalance, which is the point of static membership; otherwise the group
        rebalances (Kafka's updateStaticMemberAndRebalance)."""
        cluster = self.cluster
        suffix = uuid.UUID(int=cluster.member_ids.getrandbits(128), version=4)
        mid = f"{c['client_id']}-{suffix}"
        old.cancel_timers()
        if old.awaiting_join or old.awaiting_sync:
            # The old process was waiting for an answer: it is fenced, not answered.
            old.awaiting_join = old.awaiting_sync = False
            self.pending_sync.discard(old.id)
        new = ClientMember(self, mid, c, cluster.clock.now_ms)
        new.new = False
        new.owned, new.assignment = old.owned, old.assignment
        core = self.core
        core.members = {(mid if k == old.id else k): (new if k == old.id else m)
                        for k, m in core.members.items()}
        self.static[new.instance_id] = mid
        was_leader = core.leader == old.id
        if was_leader:
            core.leader = mid
        ev.group_member_left(
            cluster, group=self.id, consumer=old.id, generation=self.generation, kind="client",
            reason=f"replaced: static member {new.instance_id!r} restarted as {mid}")
        ev.group_member_joined(cluster, group=self.id, consumer=mid, kind="client",
                               client=new.client, topics=list(new.topics),
                               protocols=[name for name, _ in new.protocols],
                               generation=self.generation, instance_id=new.instance_id,
                               replaces=old.id)
        if new.owned:
            parts = [_tp(p) for p in new.owned]
            ev.partition_revoked(cluster, group=self.id, consumer=old.id,
                                 partitions=parts, generation=self.generation,
                                 reason=f"static member {new.instance_id!r} restarted")
            ev.partition_assigned(cluster, group=self.id, consumer=mid,
                                  partitions=parts, generation=self.generation)
        if self.state == STABLE and self.select_protocol() == self.protocol_name:
            new.awaiting_join = False
            if was_leader and c.get("skip_assignment_ok", False):
                # JoinGroup v9+: the leader, with every member, told not to assign.
                new.join_answer = self._answer(new)
                new.join_answer["skip_assignment"] = True
            else:
                # Older clients would reassign as leader, and a Stable group ignores a
                # SyncGroup's assignment: Kafka names the old leader id, which is not this
                # member's, so it syncs as a follower and gets its assignment back.
                new.join_answer = self._answer(new, with_members=False)
                if was_leader:
                    new.join_answer["leader"] = old.id
            self._heartbeat(new)
        elif self.state == PREPARING:
            self._try_complete_join()
        else:
            self._prepare(f"static member {new.instance_id!r} restarted")
        return mid

    def _rejoin(self, member: ClientMember, c: dict) -> None:
        same = member.matches(c)
        if self.state == COMPLETING and same:
            # It missed its answer (a lost response): the current generation again.
            member.join_answer = self._answer(member)
            member.awaiting_join = False
            return
        if self.state == STABLE and same and member.id != self.leader:
            member.join_answer = self._answer(member, with_members=False)
            return
        member.update(c)
        member.awaiting_join = True
        member.join_answer = None
        if member.owned and self.protocol == "eager":
            self._revoke(member, list(member.owned),
                         "eager rebalance: the client gave up its partitions to rejoin")
        if self.state == PREPARING:
            self._try_complete_join()
        else:
            self._maybe_prepare(f"member {member.id} rejoined"
                                + ("" if same else " with new metadata"))

    def sync(self, c: dict) -> None:
        member = self._known(c)
        if c["protocol_type"] is not None and c["protocol_type"] != self.protocol_type or (
                c["protocol_name"] is not None and c["protocol_name"] != self.protocol_name):
            raise GroupError("protocol_name", "not the group's protocol",
                             "INCONSISTENT_GROUP_PROTOCOL")
        answer = self.core.answer("sync")  # raises in Empty and PreparingRebalance
        self.pending_sync.discard(member.id)
        if not self.pending_sync and self.sync_timer is not None:
            self.sync_timer.cancel()
            self.sync_timer = None
        if answer == "NONE":  # Stable: the assignment it has
            member.sync_answer = {"error": "NONE", "assignment": member.assignment}
            self._heartbeat(member)
            return
        member.awaiting_sync = True
        member.sync_answer = None
        if member.id == self.leader:
            self._assign(c["assignments"])

    def heartbeat(self, c: dict) -> str:
        """Heartbeat: keeps the member's session; answers the error the state gives it (NONE,
        or REBALANCE_IN_PROGRESS while the member must join again)."""
        member = self._known(c)
        answer = self.core.answer("heartbeat")  # raises in Empty
        self._heartbeat(member)
        return answer

    def leave_errors(self, ids: list[str], instances: list) -> list[str]:
        """LeaveGroup v3+ names members by id, by instance id, or both (an admin removing
        static members sends only instance ids): each one's error, in order, and `ids` filled
        in with the members the instance ids stand for."""
        errors = []
        for i, (mid, instance) in enumerate(zip(ids, instances, strict=True)):
            if instance is not None:
                current = self.static.get(instance)
                if current is None:
                    errors.append("UNKNOWN_MEMBER_ID")
                elif mid and mid != current:
                    errors.append("FENCED_INSTANCE_ID")
                else:
                    ids[i] = current
                    errors.append("NONE")
            else:
                known = mid in self.members or mid in self.pending
                errors.append("NONE" if known else "UNKNOWN_MEMBER_ID")
        return errors

    def leave(self, ids: list[str]) -> None:
        known = [mid for mid in ids if mid in self.members or mid in self.pending]
        if not known:
            raise GroupError("members", f"group {self.id!r} has none of {ids}",
                             "UNKNOWN_MEMBER_ID")
        for mid in dict.fromkeys(known):
            if mid in self.pending:
                self.pending.pop(mid).cancel()
                ev.group_member_pending_left(self.cluster, group=self.id, consumer=mid)
                self._try_complete_join()
            elif mid in self.members:
                self._remove(self.members[mid], ev.group_member_left, "left the group")

    def check_commit(self, member_id: str, generation: int,
                     instance: str | None = None) -> ClientMember | None:
        """OffsetCommit's checks (Kafka's doCommitOffsets); the member, None for a commit
        from outside the group."""
        if instance is not None:
            self._check_instance(instance, member_id)
        if generation < 0 and self.state == EMPTY:
            return None
        member = self.members.get(member_id)
        if member is None:
            raise GroupError("member_id", f"group {self.id!r} has no member {member_id!r}",
                             "UNKNOWN_MEMBER_ID")
        if generation != self.generation:
            raise GroupError("generation", f"generation {generation} is not the group's "
                             f"({self.generation})", "ILLEGAL_GENERATION")
        self.core.answer("commit")  # raises in CompletingRebalance
        return member

    def _known(self, c: dict) -> ClientMember:
        if c.get("group_instance_id") is not None:
            self._check_instance(c["group_instance_id"], c["member_id"])
        member = self.members.get(c["member_id"])
        if member is None:
            raise GroupError("member_id", f"group {self.id!r} has no member "
                             f"{c['member_id']!r}", "UNKNOWN_MEMBER_ID")
        if c["generation"] != self.generation:
            raise GroupError("generation", f"generation {c['generation']} is not the group's "
                             f"({self.generation})", "ILLEGAL_GENERATION")
        return member

    # -- sessions ------------------------------------------------------------------------------

    def _heartbeat(self, member: ClientMember) -> None:
        clock = self.cluster.clock
        member.last_heartbeat_ms = clock.now_ms
        member.cancel_timers()
        member.expiry_timer = clock.at(clock.now_ms + member.session_timeout_ms, self._expired,
                                       member)

    def _expired(self, member: ClientMember) -> None:
        member.expiry_timer = None
        if (member.awaiting_join and not member.new) or member.awaiting_sync:
            return  # alive while it waits for an answer; its next session starts with it
        self._remove(member, ev.group_member_expired, "session timed out" if not member.new else
                     "never came back for its JoinGroup answer")

    def _pending_expired(self, mid: str) -> None:
        del self.pending[mid]
        ev.group_member_pending_expired(self.cluster, group=self.id, consumer=mid)
        self._try_complete_join()

    def _remove(self, member: ClientMember, event, reason: str,
                rebalance: bool = True) -> None:
        member.cancel_timers()
        if member.owned:
            self._revoke(member, list(member.owned), reason)
        del self.members[member.id]
        if member.instance_id is not None and self.static.get(member.instance_id) == member.id:
            del self.static[member.instance_id]
        self.pending_sync.discard(member.id)
        core = self.core
        if core.leader == member.id:
            core.leader = next(iter(core.members), None)
        event(self.cluster, group=self.id, consumer=member.id,
              generation=self.generation, kind="client", reason=reason)
        if not rebalance:
            return
        if self.state in (STABLE, COMPLETING):
            self._prepare(f"member {member.id} {reason}")
        elif self.state == PREPARING:
            self._try_complete_join()

    def _revoke(self, member: ClientMember, parts: list, reason: str) -> None:
        """Say `member` no longer owns `parts` (the coordinator sees ownership change only
        through assignments, removals and deleted topics), and forget it."""
        ev.partition_revoked(self.cluster, group=self.id, consumer=member.id,
                             partitions=[_tp(p) for p in parts], generation=self.generation,
                             reason=reason)
        member.give_up(parts)

    # -- rebalancing ---------------------------------------------------------------------------

    def _maybe_prepare(self, reason: str) -> None:
        if self.state in (STABLE, COMPLETING, EMPTY):
            self._prepare(reason)

    def _prepare(self, reason: str) -> None:
        cluster = self.cluster
        if self.state == COMPLETING:
            # Whoever waits for a SyncGroup answer is told to rejoin.
            for member in self.members.values():
                member.assignment = ""
                if member.awaiting_sync:
                    member.awaiting_sync = False
                    member.sync_answer = {"error": "REBALANCE_IN_PROGRESS", "assignment": ""}
                    self._heartbeat(member)  # answered: its session runs again
        if self.sync_timer is not None:
            self.sync_timer.cancel()
            self.sync_timer = None
        self.pending_sync = set()
        timeout = self.rebalance_timeout_ms()
        core = self.core
        if core.state == EMPTY:
            core.start_initial_delay(timeout)
        else:
            core.start_join_deadline(timeout)
        core.transition(PREPARING)
        ev.group_rebalance_started(cluster, group=self.id, generation=core.generation,
                                   reason=reason, protocol=self.protocol)

    def _try_complete_join(self) -> None:
        core = self.core
        if core.state != PREPARING or (core.join_initial and core.join_timer is not None):
            return
        if self.pending or not all(m.awaiting_join for m in self.members.values()):
            return
        self._complete_join()

    def _complete_join(self) -> None:
        """The join barrier falls (every member rejoined, or the core's join timer ran out):
        the generation goes up, and each waiting member is answered."""
        core = self.core
        core.cancel_join_timer()
        core.join_initial = False
        for member in [m for m in self.members.values() if not m.awaiting_join]:
            self._remove(member, ev.group_member_expired, "did not rejoin within the rebalance "
                         "timeout", rebalance=False)
        core.generation += 1
        if not core.members:
            # Kafka keeps an Empty group's protocol type: DescribeGroups still says "consumer",
            # which is what tells an admin it is a consumer group and not a "simple" one.
            self.protocol_name = None
            core.leader = None
            core.transition(EMPTY)
            return
        self.protocol_name = self.select_protocol()
        core.transition(COMPLETING)
        clock = self.cluster.clock
        for member in self.members.values():
            member.awaiting_join = False
            member.new = False
            member.assignment = ""
            member.join_answer = self._answer(member)
            self._heartbeat(member)
        self.pending_sync = set(self.members)
        self.sync_timer = clock.at(clock.now_ms + self.rebalance_timeout_ms(),
                                   self._sync_deadline, self.generation)
        ev.group_join_completed(self.cluster, group=self.id, generation=self.generation,
                                leader=self.leader, protocol_name=self.protocol_name,
                                protocol=self.protocol, members=list(self.members))

    def _answer(self, member: ClientMember, with_members: bool = True) -> dict:
        members = []
        if with_members and member.id == self.leader:
            members = [{"member_id": m.id, "instance_id": m.instance_id,
                        "metadata": m.metadata(self.protocol_name)}
                       for m in self.members.values()]
        return {"error": "NONE", "member_id": member.id, "generation": self.generation,
                "protocol_type": self.protocol_type, "protocol_name": self.protocol_name,
                "leader": self.leader, "members": members}

    def _sync_deadline(self, generation: int) -> None:
        self.sync_timer = None
        if generation != self.generation or self.state not in (COMPLETING, STABLE):
            return
        late = [self.members[mid] for mid in self.members if mid in self.pending_sync]
        self.pending_sync = set()
        for member in late:
            if member.id in self.members:
                self._remove(member, ev.group_member_expired, "did not send SyncGroup within the "
                             "rebalance timeout")

    def _assign(self, assignments: list[dict]) -> None:
        """The leader's SyncGroup: hand its assignment out, Stable."""
        cluster = self.cluster
        given = {a["member_id"]: a for a in assignments if a["member_id"] in self.members}
        wanted: dict[str, list] = {}
        taken: set = set()
        ignored = []
        for mid in self.members:
            parts = []
            for topic, index in (given[mid]["partitions"] if mid in given else ()):
                t = cluster.topics.get(topic)
                part = t.partitions[index] if t is not None and index < len(t.partitions) \
                    else None
                if part is None or part in taken:
                    # Not a partition the model knows, or given twice: the bytes go to the
                    # client as they are, the picture keeps one owner per partition.
                    ignored.append([mid, topic, index])
                    continue
                taken.add(part)
                parts.append(part)
            wanted[mid] = sorted_parts(parts)
        for mid, member in self.members.items():
            member.assignment = given[mid]["assignment"] if mid in given else ""
        self.core.transition(STABLE)
        fields = {"ignored": ignored} if ignored else {}
        ev.group_rebalance_completed(
            cluster, group=self.id, generation=self.generation, leader=self.leader,
            assignor=self.protocol_name, protocol=self.protocol, kind="client",
            assignment={mid: [_tp(p) for p in wanted[mid]] for mid in sorted(wanted)},
            **fields)
        for mid in sorted(self.members):
            member = self.members[mid]
            revoke = [p for p in member.owned if p not in wanted[mid]]
            if revoke:
                self._revoke(member, revoke, "rebalance: the leader gave it to another member")
        for mid in sorted(self.members):
            member = self.members[mid]
            add = [p for p in wanted[mid] if p not in member.owned]
            if add:
                ev.partition_assigned(cluster, group=self.id, consumer=mid,
                                      partitions=[_tp(p) for p in add], generation=self.generation)
                member.owned = sorted_parts(member.owned + add)
        for member in self.members.values():
            if member.awaiting_sync:
                member.awaiting_sync = False
                member.sync_answer = {"error": "NONE", "assignment": member.assignment}
                self._heartbeat(member)

    # -- the rest of the model -----------------------------------------------------------------

    def discard(self) -> None:
        """The group is deleted: nothing of it may come due later."""
        for timer in self.pending.values():
            timer.cancel()
        self.pending = {}
        for timer in (self.core.join_timer, self.sync_timer):
            if timer is not None:
                timer.cancel()

    def snapshot(self) -> dict:
        core = self.core
        # The modelled groups' keys in their order, then a client group's own.
        return {
            "state": core.state,
            "generation": core.generation,
            "assignor": self.protocol_name,
            "protocol": self.protocol,
            "leader": core.leader,
            "members": {mid: [_tp(p) for p in m.owned] for mid, m in core.members.items()},
            "consumers": {mid: m.state() for mid, m in core.members.items()},
            "lag": self.lag_rows(),
            "config": dict(self.config),
            "kind": CLIENTS,
            "protocol_type": self.protocol_type,
            "pending_members": sorted(self.pending),
        }


def _unknown_position(_owner: ClientMember, _part) -> None:
    return None


# -- reading answers (the wire adapter, after applying a command or on the group's events) -------

# -- the commands (bound into Cluster's handler table) -------------------------------------------

_JOIN_FIELDS = frozenset({"type", "group", "member_id", "client_id", "client_host",
                          "protocol_type", "protocols", "topics", "session_timeout_ms",
                          "rebalance_timeout_ms", "require_known_member_id",
                          "group_instance_id", "skip_assignment_ok"})
_SYNC_FIELDS = frozenset({"type", "group", "member_id", "generation", "protocol_type",
                          "protocol_name", "assignments", "group_instance_id"})
_HEARTBEAT_FIELDS = frozenset({"type", "group", "member_id", "generation",
                               "group_instance_id"})
_LEAVE_FIELDS = frozenset({"type", "group", "members", "instances"})
_COMMIT_FIELDS = frozenset({"type", "group", "member_id", "generation", "offsets",
                            "group_instance_id"})


def _instance(c: dict, name: str = "group_instance_id", prefix: str = "") -> str | None:
    """A static member's group.instance.id (KIP-345), or None for a dynamic member."""
    if c.get(name) is None:
        return None
    return _text(c, name, allow_empty=False, prefix=prefix)


def _client_group(cluster, gid: str, create: bool) -> ClientGroup | None:
    """The group as a client group: created if asked, taken over if it is an Empty modelled
    group (Kafka lets any protocol take an Empty group), refused if modelled consumers are in
    it."""
    group = cluster.groups.get(gid)
    if group is not None and group.kind == CLIENTS:
        return group
    if group is None:
        if not create:
            return None
        group = cluster.groups[gid] = ClientGroup(cluster, gid, dict(GROUP_DEFAULTS))
        ev.group_created(cluster, group=gid, kind=CLIENTS, config=dict(group.config))
        return group
    if group.members:
        raise GroupError("group", f"group {gid!r} has modelled consumers; a real client "
                         "cannot join it", "INCONSISTENT_GROUP_PROTOCOL")
    return convert(group, ClientGroup)


def convert(group, cls):
    """An Empty group changes hands between modelled consumers and real clients (`cls`:
    `Group` or `ClientGroup`, a driver): the new driver is handed the old one's offsets store,
    and its generation and member numbering go on where they were."""
    if group.state != EMPTY or group.members:
        # Between generations (the last member just left during the initial delay): the
        # old group's timer has yet to run. Kafka's clients retry on this answer.
        raise GroupError("group", f"group {group.id!r} is {group.state}; try again when it is "
                         "Empty", "REBALANCE_IN_PROGRESS")
    offsets = group.offsets
    if cls.kind == MODELLED:
        # A real client may have committed a negative offset (a sentinel of its own): modelled
        # consumers start from auto_offset_reset there instead.
        offsets.drop_sentinels()
    new = cls(group.cluster, group.id, dict(group.config), offsets=offsets,
              generation=group.generation, next_member_number=group.core.next_member_number)
    if group.kind == CLIENTS:
        group.discard()
    group.cluster.groups[group.id] = new
    ev.group_taken_over(group.cluster, group=group.id, kind=cls.kind,
                        generation=new.generation)
    return new


def _generation(c: dict) -> int:
    return v.integer(c, "generation", minimum=-1, maximum=2**31 - 1)


def join_group(cluster, c: dict) -> dict:
    """client.join_group. Answer: ClientGroup.join's."""
    v.check_fields(c, _JOIN_FIELDS)
    gid = _group_id(c)
    parsed = {
        "member_id": _text(c, "member_id", default=""),
        "client_id": _text(c, "client_id", default=""),
        "client_host": _text(c, "client_host", default=""),
        "protocol_type": _text(c, "protocol_type", default=""),
        "session_timeout_ms": v.integer(c, "session_timeout_ms", minimum=0,
                                        maximum=MAX_REBALANCE_TIMEOUT_MS),
        "rebalance_timeout_ms": v.integer(c, "rebalance_timeout_ms", minimum=1,
                                          maximum=MAX_REBALANCE_TIMEOUT_MS),
        "require_known_member_id": c.get("require_known_member_id", False),
        "topics": v.string_list(c, "topics", min_items=0, max_items=10_000),
        "group_instance_id": _instance(c),
        # JoinGroup v9+ (KIP-814): a restarted static leader can be told to skip assigning.
        "skip_assignment_ok": c.get("skip_assignment_ok", False),
    }
    if not isinstance(parsed["skip_assignment_ok"], bool):
        raise CommandError("skip_assignment_ok", "must be true or false")
    if not isinstance(parsed["require_known_member_id"], bool):
        raise CommandError("require_known_member_id", "must be true or false")
    protocols = c.get("protocols")
    if not isinstance(protocols, list) or len(protocols) > MAX_PROTOCOLS:
        raise CommandError("protocols", f"must be a list of at most {MAX_PROTOCOLS} protocols")
    parsed["protocols"] = []
    for i, p in enumerate(protocols):
        prefix = f"protocols[{i}]."
        if not isinstance(p, dict):
            raise CommandError(f"protocols[{i}]", "must be {name, metadata}")
        v.check_fields(p, frozenset({"name", "metadata"}), prefix)
        parsed["protocols"].append({"name": _text(p, "name", allow_empty=False, prefix=prefix),
                                    "metadata": _opaque(p, "metadata", prefix)})
    if len({p["name"] for p in parsed["protocols"]}) != len(parsed["protocols"]):
        raise CommandError("protocols", "names a protocol twice")
    session = parsed["session_timeout_ms"]
    if not MIN_SESSION_TIMEOUT_MS <= session <= MAX_SESSION_TIMEOUT_MS:
        raise GroupError("session_timeout_ms", f"must be between {MIN_SESSION_TIMEOUT_MS:,} "
                         f"and {MAX_SESSION_TIMEOUT_MS:,} ms (group.min/max.session.timeout.ms)"
                         f", not {session:,}", "INVALID_SESSION_TIMEOUT")
    if parsed["member_id"] and gid not in cluster.groups:
        raise GroupError("member_id", f"no group {gid!r}", "UNKNOWN_MEMBER_ID")
    group = cluster.groups.get(gid)
    if group is not None and group.kind == CLIENTS:
        return group.join(parsed)
    if group is not None and group.members:
        _client_group(cluster, gid, create=False)  # raises INCONSISTENT_GROUP_PROTOCOL
    if not parsed["protocol_type"] or not parsed["protocols"]:
        raise GroupError("protocols", "a first member must name a protocol type and at least "
                         "one protocol", "INCONSISTENT_GROUP_PROTOCOL")
    return _client_group(cluster, gid, create=True).join(parsed)


def sync_group(cluster, c: dict) -> None:
    v.check_fields(c, _SYNC_FIELDS)
    gid = _group_id(c)
    parsed = {"member_id": _text(c, "member_id"), "generation": _generation(c),
              "protocol_type": None, "protocol_name": None, "assignments": [],
              "group_instance_id": _instance(c)}
    for name in ("protocol_type", "protocol_name"):
        if c.get(name) is not None:
            parsed[name] = _text(c, name)
    assignments = c.get("assignments", [])
    if not isinstance(assignments, list) or len(assignments) > MAX_MEMBERS:
        raise CommandError("assignments", f"must be a list of at most {MAX_MEMBERS}")
    for i, a in enumerate(assignments):
        prefix = f"assignments[{i}]."
        if not isinstance(a, dict):
            raise CommandError(f"assignments[{i}]", "must be {member_id, assignment, partitions}")
        v.check_fields(a, frozenset({"member_id", "assignment", "partitions"}), prefix)
        parsed["assignments"].append({
            "member_id": _text(a, "member_id", prefix=prefix),
            "assignment": _opaque(a, "assignment", prefix),
            "partitions": _topic_partitions(a.get("partitions", []), prefix + "partitions")})
    _member_group(cluster, gid, parsed["member_id"]).sync(parsed)


def _member_group(cluster, gid: str, member_id: str) -> "ClientGroup":
    """The group of real clients a member's request names; Kafka answers a group it does not
    know (or one of modelled consumers) as it answers an unknown member."""
    group = cluster.groups.get(gid)
    if group is None or group.kind != CLIENTS:
        raise GroupError("member_id", f"group {gid!r} has no member {member_id!r}",
                         "UNKNOWN_MEMBER_ID")
    return group


def heartbeat(cluster, c: dict) -> dict:
    """client.heartbeat. Answer: {"error"}: NONE, or REBALANCE_IN_PROGRESS while the member
    must join again."""
    v.check_fields(c, _HEARTBEAT_FIELDS)
    gid = _group_id(c)
    parsed = {"member_id": _text(c, "member_id"), "generation": _generation(c),
              "group_instance_id": _instance(c)}
    return {"error": _member_group(cluster, gid, parsed["member_id"]).heartbeat(parsed)}


def leave_group(cluster, c: dict) -> dict:
    """client.leave_group: `members` (member ids, "" where only the instance id is known) and
    optionally `instances` (each one's group.instance.id or null). Answer: {"errors": {each
    entry's member id, or its instance id when it names no member id: NONE,
    UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID}}, as it was before it left."""
    v.check_fields(c, _LEAVE_FIELDS)
    gid = _group_id(c)
    ids = v.string_list(c, "members", min_items=1, max_items=MAX_MEMBERS)
    for i in range(len(ids)):
        _text({"m": ids[i]}, "m", prefix=f"members[{i}]")
    instances = c.get("instances")
    if instances is None:
        instances = [None] * len(ids)
    if not isinstance(instances, list) or len(instances) != len(ids):
        raise CommandError("instances", "must be a list as long as members: each member's "
                           "group.instance.id or null")
    instances = [_instance({"i": x}, "i", prefix=f"instances[{n}]")
                 for n, x in enumerate(instances)]
    group = cluster.groups.get(gid)
    if group is None or group.kind != CLIENTS:
        raise GroupError("members", f"group {gid!r} has none of {ids}", "UNKNOWN_MEMBER_ID")
    keys = [mid or instance for mid, instance in zip(ids, instances, strict=True)]
    errors = group.leave_errors(ids, instances)
    leaving = [mid for mid, error in zip(ids, errors, strict=True) if error == "NONE"]
    if not leaving:
        raise GroupError("members", f"group {gid!r} has none of {keys}",
                         next((e for e in errors if e != "NONE"), "UNKNOWN_MEMBER_ID"))
    group.leave(leaving)
    return {"errors": dict(zip(keys, errors, strict=True))}


def commit_offsets(cluster, c: dict) -> dict:
    """client.commit_offsets. Answer: {"errors": [each offset's error, in order]}: NONE,
    UNKNOWN_TOPIC_OR_PARTITION or OFFSET_METADATA_TOO_LARGE (those are not committed)."""
    v.check_fields(c, _COMMIT_FIELDS)
    gid = _group_id(c)
    member_id = _text(c, "member_id", default="")
    generation = _generation(c)
    offsets = c.get("offsets")
    if not isinstance(offsets, list) or len(offsets) > MAX_OFFSETS:
        raise CommandError("offsets", f"must be a list of at most {MAX_OFFSETS:,}")
    parsed = []
    for i, o in enumerate(offsets):
        prefix = f"offsets[{i}]."
        if not isinstance(o, dict):
            raise CommandError(f"offsets[{i}]", "must be {topic, partition, offset, ...}")
        v.check_fields(o, frozenset({"topic", "partition", "offset", "metadata",
                                     "leader_epoch"}), prefix)
        metadata = o.get("metadata") or ""
        if not isinstance(metadata, str):
            raise CommandError(prefix + "metadata", "must be a string")
        parsed.append((_text(o, "topic", allow_empty=False, prefix=prefix),
                       v.integer(o, "partition", minimum=0, maximum=999_999,
                                 field=prefix + "partition"),
                       # Kafka stores any offset a client commits; kafkajs' resetOffsets
                       # commits -2 ("earliest") and its consumers read that as a seek.
                       v.integer(o, "offset", minimum=-MAX_OFFSET - 1, maximum=MAX_OFFSET,
                                 field=prefix + "offset"),
                       metadata,
                       v.integer(o, "leader_epoch", default=-1, minimum=-1,
                                 maximum=2**31 - 1, field=prefix + "leader_epoch")))
    group = cluster.groups.get(gid)
    member = None
    if group is None:
        if generation >= 0:
            raise GroupError("generation", f"no group {gid!r}: a commit from generation "
                             f"{generation} is from an old generation", "ILLEGAL_GENERATION")
        group = _client_group(cluster, gid, create=True)
    elif group.kind == CLIENTS:
        member = group.check_commit(member_id, generation, _instance(c))
    elif generation >= 0 or group.members:
        raise GroupError("member_id", f"group {gid!r} is a modelled group; only a commit "
                         "with generation -1 to it while it is Empty is accepted",
                         "UNKNOWN_MEMBER_ID" if group.members else "ILLEGAL_GENERATION")
    if member is not None:
        group._heartbeat(member)
    errors = []
    for topic, index, offset, metadata, epoch in parsed:
        t = cluster.topics.get(topic)
        if t is None or index >= len(t.partitions):
            errors.append("UNKNOWN_TOPIC_OR_PARTITION")  # no offset.committed for it
            continue
        if len(metadata.encode()) > OFFSET_METADATA_MAX:
            errors.append("OFFSET_METADATA_TOO_LARGE")
            continue
        group.offsets.commit(member.id if member else None, t.partitions[index], offset,
                             metadata=(metadata, epoch))
        errors.append("NONE")
    return {"errors": errors}


HANDLERS = {
    "client.join_group": join_group,
    "client.sync_group": sync_group,
    "client.heartbeat": heartbeat,
    "client.leave_group": leave_group,
    "client.commit_offsets": commit_offsets,
}
