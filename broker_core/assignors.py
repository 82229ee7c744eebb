"""Who reads which partition: Kafka's four consumer-group partition assignors, reproduced exactly.

When a consumer group rebalances, the group leader is handed every member's subscription (the
topics it wants and, for the sticky assignors, the partitions it owned so far together with the
generation in which it got them) plus the partition count of every topic. It runs one *assignor*
and hands each member back a list of partitions. Every partition of a subscribed topic must go to
exactly one member that subscribes to its topic; how the assignor chooses is what tells the four
apart. Each function here is a pure function of its two arguments and reproduces the
rack-unaware behaviour of the Java class of the same name in ``org.apache.kafka.clients.consumer``.

Theory of operation
-------------------

**Range** (``RangeAssignor``) works one topic at a time. It lines up the topic's partitions in
numeric order and the members subscribed to that topic in member-id order, then cuts the line into
contiguous ranges: every member gets ``partitions // members`` and the first
``partitions % members`` of them one more. Two topics with the same partition count and the same
subscribers are therefore cut identically, so each member gets the same partition numbers of
both, which is what a join of co-partitioned topics needs. The price is imbalance: the first
members win the remainder of *every* topic, so with many topics the first member can end up with
far more than the last.

**Round robin** (``RoundRobinAssignor``) forgets topics: it lines up every partition of every
subscribed topic (topics in name order, partitions in numeric order) and deals them out like
cards to the members in member-id order, skipping a member that does not subscribe to the topic
of the card being dealt. With identical subscriptions the counts differ by at most one; with
different subscriptions the skipping can pile partitions onto the members that subscribe to the
most topics (see the second example of :func:`roundrobin_assign`).

Range and round robin ignore what members owned before, so a rebalance may move every partition.
A move is expensive (the new owner must find the committed offset, warm caches, rebuild local
state) and under the *eager* protocol every member stops consuming everything during the
rebalance. The two sticky assignors attack both costs.

**Sticky** (``StickyAssignor``) has two goals, in this order: (1) balance, meaning the member
counts differ by at most one, or at least no member could take over a partition it is eligible
for from a member holding two or more partitions more than it; (2) stickiness, meaning
partitions stay where they were as much as (1) allows. What each member owned comes in with its
subscription (``Subscription.owned``, the data Kafka carries in the subscription's user data)
along with the generation of that ownership. When two members claim the same partition, the
claim from the higher generation wins; when the generations are equal the claim is void for both,
because at most one of them can be right and neither can be trusted. Claims on partitions of
topics nobody subscribes to any more are dropped.

Kafka runs one of two algorithms:

* *Constrained* (every member subscribes to exactly the same topics). The quota is known up
  front: with ``P`` partitions and ``N`` members everyone gets ``P // N`` (``min_quota``) and
  ``P % N`` members get one more (``max_quota``). Each member first keeps what it owned, lowest
  partition numbers first, up to ``max_quota`` while the number of members allowed to sit at
  ``max_quota`` is not used up, else up to ``min_quota``. The partitions left over are dealt
  round robin, first to members still below ``min_quota``, then one each to members sitting at
  ``min_quota`` until the ``max_quota`` slots are filled. No search is needed, which keeps
  this fast for groups with thousands of members and partitions.

* *General* (subscriptions differ). Kept partitions are those a member owned and still
  subscribes to. Unowned partitions are handed out one at a time, most constrained topics first
  (topics with the fewest eligible members), each to the eligible member holding the fewest
  partitions. Then a local search repeatedly moves a partition from a member to an eligible
  member with at least two fewer partitions, until the assignment is balanced in the sense
  above. A move prefers to send a partition back to the member that held it in an older
  generation, and to undo an earlier move of this same rebalance instead of starting a new chain.
  If the search did not lower the total pairwise imbalance, it is undone, since it would then
  only have cost stickiness.

**Cooperative sticky** (``CooperativeStickyAssignor``) computes the same sticky assignment but
is used with the *cooperative* (incremental) protocol, where members keep consuming what they
own during a rebalance. That is only safe if no partition is owned by two members at once, so a
partition that is to move from its current owner to another member is left out of *everyone's*
list in this round: the owner sees it missing and revokes it, and because something was revoked
the group rebalances a second time, in which the partition is free and goes to its new member.
Partitions that nobody currently owns are handed out at once.

Determinism
-----------

A result depends only on the values passed in, never on the insertion order of the mappings, on
Python's set or dict iteration order or on ``PYTHONHASHSEED``: every function sorts what it
reads. Members are ordered by member id wherever Kafka orders them by member id (static
``group.instance.id`` is not modelled), topics by name and partitions by number.

Three steps of the sticky assignors walk a ``java.util.HashMap`` keyed by member id (reading
the claims, letting members keep what they own in the constrained algorithm, picking the
previous owner among equal generations), and the general algorithm takes "any" element of a
``java.util.HashSet`` of partitions. Java's order there is not sorted but it is not random
either: it follows ``String.hashCode`` and ``TopicPartition.hashCode`` bucket by bucket, and it
decides real outcomes. With three consumers sharing four partitions, only one may keep two, and
Kafka lets the first one it walks keep them: for ``consumer1`` .. ``consumer4`` that is
``consumer4`` first (its bucket comes first), which Kafka's own
``testMaxQuotaConsumerMoreThanNumExpectedMaxCapacityMembers`` depends on. So this module
reproduces that order (``_java_order``, ``_JavaHashOrder``). Members that land in the same
bucket are taken in member-id order, where Kafka takes the order of the JoinGroup response,
which the assignor does not see.

Where this module deliberately differs from the Java code (only on inputs a real group rarely
produces, and where Kafka would throw or break its own contract):

* Kafka decides "all subscriptions are equal" starting from the first member whose topic list is
  non-empty, so a member subscribed to nothing that happens to be walked first lets the
  constrained algorithm hand it partitions of topics it never asked for. Here the comparison
  includes every member.
* In the general algorithm Kafka may try to send a partition back to the member that owned it
  in an older generation even when that member no longer subscribes to the topic (or has been
  set aside because nothing of it can move), which breaks validity or throws
  ``NullPointerException``. Here that hint is only followed when the member is still eligible.
* Claims on partition numbers beyond a topic's current count, and repeated entries within one
  member's ``owned`` or ``topics``, are ignored.
* Java turns a hash bucket holding more than eight keys into a tree once its table has 64
  buckets or more, which changes the order inside that bucket; that is not modelled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

TopicPartition = tuple[str, int]

DEFAULT_GENERATION = -1


@dataclass(frozen=True)
class Subscription:
    """One member's join request as the assignor sees it."""

    topics: tuple[str, ...]
    owned: tuple[TopicPartition, ...] = ()
    generation: int = DEFAULT_GENERATION


Assignor = Callable[
    [Mapping[str, Subscription], Mapping[str, int]], dict[str, list[TopicPartition]]
]


# -- shared plumbing ------------------------------------------------------------------------------


def _live_topics(
    subscriptions: Mapping[str, Subscription], partitions_per_topic: Mapping[str, int]
) -> dict[str, int]:
    """Partition count of every topic that someone subscribes to and that has partitions.

    Kafka's leader builds exactly this map from cluster metadata before calling the assignor, so
    topics nobody wants and topics missing from metadata never reach the algorithms.
    """
    wanted = {topic for sub in subscriptions.values() for topic in sub.topics}
    return {
        topic: partitions_per_topic[topic]
        for topic in sorted(partitions_per_topic)
        if topic in wanted and partitions_per_topic[topic] > 0
    }


def _finish(assignment: Mapping[str, list[TopicPartition]]) -> dict[str, list[TopicPartition]]:
    return {member: sorted(assignment[member]) for member in sorted(assignment)}


def _generation(sub: Subscription) -> int:
    # Kafka's Subscription turns any negative generation into "unknown", which compares as -1.
    return sub.generation if sub.generation >= 0 else DEFAULT_GENERATION


def java_string_hash(text: str) -> int:
    """``String.hashCode()``: 31-polynomial over UTF-16 code units, as an unsigned 32-bit int."""
    data = text.encode("utf-16-be", "surrogatepass")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h


def _java_partition_hash(tp: TopicPartition) -> int:
    """``TopicPartition.hashCode()``, unsigned."""
    return (31 * (31 + tp[1]) + java_string_hash(tp[0])) & 0xFFFFFFFF


class _JavaHashOrder:
    """The iteration order of a ``java.util.HashMap`` (or ``HashSet``) built with ``new``.

    Java iterates bucket by bucket, and within a bucket in insertion order. A key's bucket is
    its spread hash modulo the table size, which starts at 16 and doubles when the map is more
    than three quarters full, or when one bucket would hold a ninth key while the table is
    smaller than 64 (above that Java turns the bucket into a tree, which is not modelled).
    """

    def __init__(self, hash_of: Callable[[Any], int]) -> None:
        self._hash_of = hash_of
        self._capacity = 16
        self._size = 0
        self._buckets: dict[int, list[Any]] = {}

    def _bucket(self, key: Any) -> int:
        h = self._hash_of(key)
        return (h ^ (h >> 16)) & (self._capacity - 1)

    def _grow(self) -> None:
        keys = list(self)
        self._capacity *= 2
        self._buckets = {}
        for key in keys:
            self._buckets.setdefault(self._bucket(key), []).append(key)

    def add(self, key: Any) -> None:
        bucket = self._buckets.setdefault(self._bucket(key), [])
        if key in bucket:
            return
        bucket.append(key)
        self._size += 1
        if len(bucket) > 8 and self._capacity < 64:
            self._grow()
        if self._size > self._capacity * 3 // 4:
            self._grow()

    def discard(self, key: Any) -> None:
        bucket = self._buckets.get(self._bucket(key), [])
        if key in bucket:
            bucket.remove(key)
            self._size -= 1

    def __iter__(self) -> Iterator[Any]:
        for index in sorted(self._buckets):
            yield from self._buckets[index]

    def __len__(self) -> int:
        return self._size


def _java_order(members: Iterable[str]) -> list[str]:
    """Member ids in the order Java walks the hash maps the group leader keys by member id.

    Members that share a bucket are inserted in member-id order (in Kafka it is the order of
    the JoinGroup response, which the assignor does not see).
    """
    order = _JavaHashOrder(java_string_hash)
    for member in sorted(members):
        order.add(member)
    return list(order)


# -- range ----------------------------------------------------------------------------------------


def range_assign(
    subscriptions: Mapping[str, Subscription], partitions_per_topic: Mapping[str, int]
) -> dict[str, list[TopicPartition]]:
    """Kafka's ``RangeAssignor``: contiguous ranges of each topic, first members get the extras.

    Kafka's example: consumers C0 and C1 both subscribe to t0 and t1, three partitions each.
    Each topic splits 3 = 2 + 1, and C0 comes first both times::

        C0: [t0p0, t0p1, t1p0, t1p1]
        C1: [t0p2, t1p2]
    """
    topics = _live_topics(subscriptions, partitions_per_topic)
    members = sorted(subscriptions)
    assignment: dict[str, list[TopicPartition]] = {member: [] for member in members}
    for topic, count in topics.items():
        consumers = [member for member in members if topic in subscriptions[member].topics]
        per_member, extra = divmod(count, len(consumers))
        start = 0
        for index, member in enumerate(consumers):
            take = per_member + (1 if index < extra else 0)
            assignment[member].extend((topic, p) for p in range(start, start + take))
            start += take
    return _finish(assignment)


# -- round robin ----------------------------------------------------------------------------------


def roundrobin_assign(
    subscriptions: Mapping[str, Subscription], partitions_per_topic: Mapping[str, int]
) -> dict[str, list[TopicPartition]]:
    """Kafka's ``RoundRobinAssignor``: deal all partitions like cards, skipping non-subscribers.

    Kafka's first example: C0 and C1 both subscribe to t0 and t1 (three partitions each); the
    deal t0p0, t0p1, t0p2, t1p0, t1p1, t1p2 alternates between them::

        C0: [t0p0, t0p2, t1p1]
        C1: [t0p1, t1p0, t1p2]

    Kafka's second example shows the imbalance skipping causes: t0, t1, t2 have 1, 2 and 3
    partitions; C0 subscribes to t0, C1 to t0 and t1, C2 to all three. t0p0 goes to C0, t1p0 to
    C1, and from then on the dealer keeps skipping to C2::

        C0: [t0p0]
        C1: [t1p0]
        C2: [t1p1, t2p0, t2p1, t2p2]
    """
    topics = _live_topics(subscriptions, partitions_per_topic)
    members = sorted(subscriptions)
    assignment: dict[str, list[TopicPartition]] = {member: [] for member in members}
    turn = 0
    for topic, count in topics.items():
        for partition in range(count):
            # Terminates: _live_topics only keeps topics at least one member subscribes to.
            while topic not in subscriptions[members[turn % len(members)]].topics:
                turn += 1
            assignment[members[turn % len(members)]].append((topic, partition))
            turn += 1
    return _finish(assignment)


# -- sticky: reading the previous ownership -------------------------------------------------------


@dataclass
class _Claims:
    """What Kafka's ``allSubscriptionsEqual`` learns from the subscriptions."""

    owned: dict[str, list[TopicPartition]]  # each member's surviving claims, in claim order
    doubly_claimed: set[TopicPartition]  # claimed by two members of the same generation
    max_generation: int
    all_equal: bool


def _read_claims(
    subscriptions: Mapping[str, Subscription], topics: Mapping[str, int]
) -> _Claims:
    # Kafka walks the subscriptions HashMap, and the order decides conflicting claims.
    members = _java_order(subscriptions)
    topic_sets = {frozenset(subscriptions[member].topics) for member in members}
    owned: dict[str, list[TopicPartition]] = {member: [] for member in members}
    claimant: dict[TopicPartition, str] = {}
    doubly_claimed: set[TopicPartition] = set()
    max_generation = DEFAULT_GENERATION
    for member in members:
        generation = _generation(subscriptions[member])
        max_generation = max(max_generation, generation)
        for tp in dict.fromkeys(subscriptions[member].owned):
            topic, partition = tp
            if not 0 <= partition < topics.get(topic, 0):
                continue
            tp = (topic, partition)
            other = claimant.get(tp)
            if other is None:
                owned[member].append(tp)
                claimant[tp] = member
                continue
            other_generation = _generation(subscriptions[other])
            if generation == other_generation:
                # Neither claim can be trusted. Later claimants compare against this member, so
                # a third claim from a newer generation still wins the partition back.
                doubly_claimed.add(tp)
                if tp in owned[other]:
                    owned[other].remove(tp)
                claimant[tp] = member
            elif generation > other_generation:
                owned[member].append(tp)
                if tp in owned[other]:
                    owned[other].remove(tp)
                claimant[tp] = member
    return _Claims(owned, doubly_claimed, max_generation, len(topic_sets) <= 1)


# -- sticky: the constrained algorithm (identical subscriptions) ----------------------------------


def _constrained_assign(
    members: list[str], topics: Mapping[str, int], claims: _Claims
) -> tuple[dict[str, list[TopicPartition]], dict[TopicPartition, str]]:
    """Kafka's ``ConstrainedAssignmentBuilder``; also returns the partitions changing hands."""
    total = sum(topics.values())
    min_quota, expected_over_min = divmod(total, len(members))
    max_quota = min_quota + (1 if expected_over_min else 0)
    over_min = 0

    assignment: dict[str, list[TopicPartition]] = {member: [] for member in members}
    given_up: dict[TopicPartition, str] = {}  # owned but not kept, and by whom
    transferring: dict[TopicPartition, str] = {}
    under_min: list[str] = []
    at_min: list[str] = []  # members at min_quota that may still take one more
    kept: set[TopicPartition] = set()

    # Kafka walks a HashMap here, so `members` comes in Java's order: the first members walked
    # that own enough are the ones that keep max_quota partitions.
    for member in members:
        # Kafka keeps the lowest partition numbers across topics, so the topic is the tiebreak.
        owned = sorted(
            (tp for tp in claims.owned[member] if tp not in claims.doubly_claimed),
            key=lambda tp: (tp[1], tp[0]),
        )
        if len(owned) < min_quota:
            keep = owned
            under_min.append(member)
        elif len(owned) >= max_quota and over_min < expected_over_min:
            keep = owned[:max_quota]
            over_min += 1
            if over_min == expected_over_min:
                at_min.clear()
        else:
            keep = owned[:min_quota]
            if over_min < expected_over_min:
                at_min.append(member)
        assignment[member].extend(keep)
        kept.update(keep)
        for tp in owned[len(keep):]:
            given_up[tp] = member

    under_min.sort()
    at_min.sort()
    unassigned = [
        (topic, p)
        for topic in sorted(topics)
        for p in range(topics[topic])
        if (topic, p) not in kept
    ]

    def give(tp: TopicPartition, member: str) -> int:
        assignment[member].append(tp)
        # A partition is in flight if someone else owned it, or if its ownership was disputed.
        if (tp in given_up and given_up[tp] != member) or tp in claims.doubly_claimed:
            transferring[tp] = member
        return len(assignment[member])

    # Mirrors Kafka's use of a java.util.Iterator over under_min: a cursor that is reset when it
    # runs off the end, and whose last element can be removed while walking.
    cursor = 0
    for tp in unassigned:
        if cursor < len(under_min):
            member = under_min[cursor]
            cursor += 1
        elif under_min:
            member = under_min[0]
            cursor = 1
        elif at_min:
            member = at_min.pop(0)
        else:
            raise RuntimeError("sticky assignor: no member left with room for " + repr(tp))
        count = give(tp, member)
        if count == min_quota:
            cursor -= 1
            del under_min[cursor]
            at_min.append(member)
        elif count == max_quota:
            over_min += 1
    return assignment, transferring


# -- sticky: the general algorithm (subscriptions differ) -----------------------------------------


class _Movements:
    """Kafka's ``PartitionMovements``: net moves made so far in this rebalance, per topic."""

    def __init__(self) -> None:
        self._pair: dict[TopicPartition, tuple[str, str]] = {}
        self._by_topic: dict[str, dict[tuple[str, str], _JavaHashOrder]] = {}

    def _forget(self, tp: TopicPartition) -> tuple[str, str]:
        pair = self._pair.pop(tp)
        moves = self._by_topic[tp[0]]
        moves[pair].discard(tp)
        if not moves[pair]:
            del moves[pair]
        if not moves:
            del self._by_topic[tp[0]]
        return pair

    def _record(self, tp: TopicPartition, pair: tuple[str, str]) -> None:
        self._pair[tp] = pair
        moves = self._by_topic.setdefault(tp[0], {})
        if pair not in moves:
            moves[pair] = _JavaHashOrder(_java_partition_hash)
        moves[pair].add(tp)

    def move(self, tp: TopicPartition, old: str, new: str) -> None:
        if tp in self._pair:
            source, _ = self._forget(tp)
            if source != new:
                self._record(tp, (source, new))
        else:
            self._record(tp, (old, new))

    def partition_to_move(self, tp: TopicPartition, old: str, new: str) -> TopicPartition:
        """Undo an earlier opposite move of the same topic rather than start a new chain."""
        moves = self._by_topic.get(tp[0])
        if moves is None:
            return tp
        if tp in self._pair:
            old = self._pair[tp][0]
        reverse = moves.get((new, old))
        if reverse is None:
            return tp
        # Java takes the first element its HashSet yields.
        return next(iter(reverse))


def _imbalance(assignment: Mapping[str, list[TopicPartition]]) -> int:
    """Kafka's balance score: the sum over all pairs of members of their count difference."""
    sizes = sorted(len(partitions) for partitions in assignment.values())
    return sum(size * (2 * index - len(sizes) + 1) for index, size in enumerate(sizes))


class _GeneralAssignment:
    """Kafka's ``GeneralAssignmentBuilder``."""

    def __init__(
        self,
        subscriptions: Mapping[str, Subscription],
        topics: Mapping[str, int],
        claims: _Claims,
    ) -> None:
        self.members = sorted(subscriptions)
        self.subscribed = {m: frozenset(subscriptions[m].topics) for m in self.members}
        self.consumers_of: dict[str, list[str]] = {topic: [] for topic in topics}
        self.eligible_topics: dict[str, frozenset[str]] = {}
        for member in self.members:
            mine = [topic for topic in sorted(self.subscribed[member]) if topic in topics]
            self.eligible_topics[member] = frozenset(mine)
            for topic in mine:
                self.consumers_of[topic].append(member)
        self.eligible = {
            member: [(t, p) for t in sorted(self.eligible_topics[member]) for p in range(topics[t])]
            for member in self.members
        }
        self.current = {member: list(claims.owned[member]) for member in self.members}
        self.owner = {tp: member for member in self.members for tp in self.current[member]}
        # Most constrained topics first, so the greedy pass cannot strand them.
        by_scarcity = sorted(topics, key=lambda topic: (len(self.consumers_of[topic]), topic))
        self.all_partitions = [(t, p) for t in by_scarcity for p in range(topics[t])]
        self.previous_owner = self._previous_owners(subscriptions, claims.max_generation)
        # Members still taking part in the search (Kafka's sortedCurrentSubscriptions).
        self.pool = set(self.members)
        self.movements = _Movements()
        self.revocation_required = False

    def _previous_owners(
        self, subscriptions: Mapping[str, Subscription], max_generation: int
    ) -> dict[TopicPartition, str]:
        """Each partition's owner in the newest generation older than the current one.

        The search prefers to move a partition back there, since that member may still have
        its state.
        """
        best: dict[TopicPartition, tuple[str, int]] = {}
        # Equal generations: the first member walked wins, and Kafka walks a HashMap.
        for member in _java_order(self.members):
            generation = _generation(subscriptions[member])
            if generation >= max_generation:
                continue
            for topic, partition in subscriptions[member].owned:
                tp = (topic, partition)
                if tp not in best or generation > best[tp][1]:
                    best[tp] = (member, generation)
        return {tp: member for tp, (member, _) in best.items()}

    def by_load(self) -> list[str]:
        return sorted(self.pool, key=lambda member: (len(self.current[member]), member))

    def build(self) -> dict[str, list[TopicPartition]]:
        kept: set[TopicPartition] = set()
        for member in self.members:
            keep = []
            for tp in self.current[member]:
                if tp[0] in self.subscribed[member]:
                    keep.append(tp)
                    kept.add(tp)
                else:
                    # The member left the topic: it has to revoke, so skip the cheap first pass.
                    self.revocation_required = True
                    del self.owner[tp]
            self.current[member] = keep
        unassigned = [tp for tp in self.all_partitions if tp not in kept]
        self._balance(unassigned)
        return self.current

    def _balance(self, unassigned: list[TopicPartition]) -> None:
        initializing = not any(self.current.values())
        for tp in unassigned:
            for member in self.by_load():
                if tp[0] in self.eligible_topics[member]:
                    self.current[member].append(tp)
                    self.owner[tp] = member
                    break

        # A topic with a single eligible member and a member that can neither gain nor lose
        # anything are out of the search; taking them out keeps it small.
        movable = {topic for topic, consumers in self.consumers_of.items() if len(consumers) >= 2}
        self.all_partitions = [tp for tp in self.all_partitions if tp[0] in movable]
        unassigned = [tp for tp in unassigned if tp[0] in movable]
        fixed: dict[str, list[TopicPartition]] = {}
        for member in self.members:
            if not self._can_change(member, movable):
                self.pool.discard(member)
                fixed[member] = self.current.pop(member)

        before = {member: list(partitions) for member, partitions in self.current.items()}
        owner_before = dict(self.owner)
        if not self.revocation_required:
            # Try to balance by moving only the partitions nobody owned, which costs nothing.
            self._search(unassigned)
        moved = self._search(self.all_partitions)
        if not initializing and moved and _imbalance(self.current) >= _imbalance(before):
            self.current = before
            self.owner = owner_before
        self.current.update(fixed)
        self.pool.update(fixed)

    def _can_change(self, member: str, movable: set[str]) -> bool:
        if len(self.current[member]) < len(self.eligible[member]):
            return True
        return any(tp[0] in movable for tp in self.current[member])

    def _is_balanced(self) -> bool:
        loads = [len(self.current[member]) for member in self.pool]
        if not loads or min(loads) >= max(loads) - 1:
            return True
        for member in sorted(self.pool):
            load = len(self.current[member])
            if load == len(self.eligible[member]):
                continue
            mine = set(self.current[member])
            for tp in self.eligible[member]:
                if tp in mine:
                    continue
                other = self.owner.get(tp)
                if other in self.current and load + 1 < len(self.current[other]):
                    return False
        return True

    def _search(self, partitions: list[TopicPartition]) -> bool:
        moved = False
        while True:
            modified = False
            for tp in partitions:
                if self._is_balanced():
                    break
                load = len(self.current[self.owner[tp]])
                previous = self.previous_owner.get(tp)
                if (
                    previous in self.current
                    and tp[0] in self.eligible_topics[previous]
                    and load > len(self.current[previous]) + 1
                ):
                    self._move(tp, previous)
                    moved = modified = True
                    continue
                if any(load > len(self.current[m]) + 1 for m in self.consumers_of[tp[0]]):
                    target = next(m for m in self.by_load() if tp[0] in self.eligible_topics[m])
                    self._move(tp, target)
                    moved = modified = True
            if not modified:
                return moved

    def _move(self, tp: TopicPartition, new: str) -> None:
        tp = self.movements.partition_to_move(tp, self.owner[tp], new)
        old = self.owner[tp]
        self.movements.move(tp, old, new)
        self.current[old].remove(tp)
        self.current[new].append(tp)
        self.owner[tp] = new


# -- sticky: entry points -------------------------------------------------------------------------


def _sticky(
    subscriptions: Mapping[str, Subscription], partitions_per_topic: Mapping[str, int]
) -> tuple[dict[str, list[TopicPartition]], dict[TopicPartition, str] | None]:
    """The sticky assignment, and the partitions changing owner if the fast path knows them."""
    if not subscriptions:
        return {}, {}
    topics = _live_topics(subscriptions, partitions_per_topic)
    claims = _read_claims(subscriptions, topics)
    if claims.all_equal:
        return _constrained_assign(_java_order(subscriptions), topics, claims)
    return _GeneralAssignment(subscriptions, topics, claims).build(), None


def sticky_assign(
    subscriptions: Mapping[str, Subscription], partitions_per_topic: Mapping[str, int]
) -> dict[str, list[TopicPartition]]:
    """Kafka's ``StickyAssignor`` (eager protocol): balance first, then move as little as possible.

    ``owned`` and ``generation`` of each subscription play the part of the previous assignment
    and generation Kafka encodes in the subscription user data.

    Kafka's example 1: C0, C1, C2 subscribe to t0..t3, two partitions each. Fresh, the partitions
    are dealt like round robin::

        C0: [t0p0, t1p1, t3p0]      C1: [t0p1, t2p0, t3p1]      C2: [t1p0, t2p1]

    When C1 leaves, C0 and C2 keep all five of their partitions and share C1's three (round
    robin would have moved two of the five). The Javadoc shows ``C0: [t0p0, t1p1, t3p0, t2p0]``,
    ``C2: [t1p0, t2p1, t0p1, t3p1]``, which is what the general algorithm gives; the
    constrained algorithm Kafka runs for identical subscriptions hands out C1's partitions in
    partition order instead and gives ``C0: [t0p0, t0p1, t1p1, t3p0]``,
    ``C2: [t1p0, t2p0, t2p1, t3p1]``, equally balanced and equally sticky.

    Kafka's example 2: t0, t1, t2 have 1, 2, 3 partitions; C0 subscribes to t0, C1 to t0 and t1,
    C2 to all three. Scarce topics go first, each to the least loaded eligible member::

        C0: [t0p0]      C1: [t1p0, t1p1]      C2: [t2p0, t2p1, t2p2]

    When C0 leaves, only t0p0 moves: ``C1: [t0p0, t1p0, t1p1]``, ``C2: [t2p0, t2p1, t2p2]``.
    """
    assignment, _ = _sticky(subscriptions, partitions_per_topic)
    return _finish(assignment)


def cooperative_sticky_assign(
    subscriptions: Mapping[str, Subscription], partitions_per_topic: Mapping[str, int]
) -> dict[str, list[TopicPartition]]:
    """Kafka's ``CooperativeStickyAssignor``: the sticky assignment minus partitions in flight.

    The sticky assignment is computed from ``owned`` exactly as :func:`sticky_assign` does.
    Then every partition that would move from a member that currently owns it to a different
    member is *withheld*: it is left out of everyone's list this round. Its owner, not finding it
    in its new list, revokes it; because something was revoked, the caller must run a second
    rebalance, in which nobody owns it any more and it goes to its new member. A partition
    claimed by two members of the same generation is withheld as well (when all subscriptions
    are equal, even from the claimant it is given to, as in Kafka). Partitions nobody owns are
    handed out at once.

    Kafka's ``testAddRemoveConsumerOneTopic``: consumer1 owns topic-0..2, consumer2 joins empty.
    The sticky target is consumer1: [topic-0, topic-1], consumer2: [topic-2], but topic-2 is
    still owned by consumer1, so this round gives::

        consumer1: [topic-0, topic-1]      consumer2: []

    and the follow-up round, with consumer1 owning only topic-0 and topic-1, gives consumer2
    [topic-2].
    """
    assignment, transferring = _sticky(subscriptions, partitions_per_topic)
    if transferring is None:
        # The general algorithm does not track moves, so compare against what members own.
        added: dict[TopicPartition, str] = {}
        revoked: set[TopicPartition] = set()
        for member in sorted(assignment):
            owned = set(subscriptions[member].owned)
            assigned = set(assignment[member])
            added.update((tp, member) for tp in assignment[member] if tp not in owned)
            revoked.update(tp for tp in owned if tp not in assigned)
        transferring = {tp: member for tp, member in added.items() if tp in revoked}
    for tp, member in transferring.items():
        assignment[member].remove(tp)
    return _finish(assignment)


ASSIGNORS: dict[str, Assignor] = {
    "range": range_assign,
    "roundrobin": roundrobin_assign,
    "sticky": sticky_assign,
    "cooperative-sticky": cooperative_sticky_assign,
}

PROTOCOL: dict[str, str] = {
    "range": "eager",
    "roundrobin": "eager",
    "sticky": "eager",
    "cooperative-sticky": "cooperative",
}


# -- checking results -----------------------------------------------------------------------------


def _name(tp: TopicPartition) -> str:
    return f"{tp[0]}-{tp[1]}"


def check_assignment(
    subscriptions: Mapping[str, Subscription],
    partitions_per_topic: Mapping[str, int],
    assignment: Mapping[str, Iterable[TopicPartition]],
    *,
    withheld: Iterable[TopicPartition] = (),
) -> list[str]:
    """Everything wrong with `assignment`, as sentences; an empty list means it is valid.

    Valid means: every member of `subscriptions` has an entry and there are no other entries;
    every partition is a real one (its topic is in `partitions_per_topic` and its number is
    below the count); it goes to a member subscribed to its topic; no partition is given twice;
    and every partition of every subscribed, existing topic is given to someone. Partitions in
    `withheld` may be missing, which is how a cooperative round leaves partitions in flight.
    """
    problems: list[str] = []
    for member in sorted(set(assignment) - set(subscriptions)):
        problems.append(f"{member!r} is not a member of the group but was given partitions")
    for member in sorted(set(subscriptions) - set(assignment)):
        problems.append(f"member {member!r} is missing from the assignment")

    holders: dict[TopicPartition, list[str]] = {}
    for member in sorted(assignment):
        for item in assignment[member]:
            try:
                topic, partition = item
            except (TypeError, ValueError):
                problems.append(f"{member!r} was given {item!r}, which is not a (topic, partition)")
                continue
            count = partitions_per_topic.get(topic)
            if count is None or not isinstance(partition, int) or not 0 <= partition < count:
                problems.append(f"{member!r} was given {topic}-{partition}, which does not exist")
                continue
            if member in subscriptions and topic not in subscriptions[member].topics:
                problems.append(
                    f"{member!r} was given {topic}-{partition} but does not subscribe to {topic!r}"
                )
            holders.setdefault((topic, partition), []).append(member)
    for tp in sorted(holders):
        if len(holders[tp]) > 1:
            problems.append(f"{_name(tp)} is given more than once: {holders[tp]}")

    allowed_missing = set(withheld)
    wanted = sorted({topic for sub in subscriptions.values() for topic in sub.topics})
    for topic in wanted:
        for partition in range(partitions_per_topic.get(topic, 0)):
            tp = (topic, partition)
            if tp not in holders and tp not in allowed_missing:
                problems.append(f"{_name(tp)} is not given to anyone")
    return problems


def is_balanced(
    subscriptions: Mapping[str, Subscription],
    partitions_per_topic: Mapping[str, int],
    assignment: Mapping[str, Iterable[TopicPartition]],
) -> bool:
    """Kafka's notion of balanced: no member could take over a partition it is subscribed to
    from a member holding two or more partitions more than it.

    This is the test Kafka's general sticky algorithm runs to stop (``isBalanced``). It holds
    whenever all counts are within one (``isFullyBalanced`` in Kafka's tests) and implies the
    pairwise check of ``AbstractStickyAssignorTest.verifyValidityAndBalance``.
    """
    held = {member: list(partitions) for member, partitions in assignment.items()}
    owner = {tuple(tp): member for member in sorted(held) for tp in held[member]}
    for member in sorted(subscriptions):
        load = len(held.get(member, ()))
        for topic in sorted(set(subscriptions[member].topics)):
            for partition in range(partitions_per_topic.get(topic, 0)):
                other = owner.get((topic, partition))
                if other is not None and other != member and len(held[other]) >= load + 2:
                    return False
    return True
