"""The classic group coordinator's core, which both kinds of group have (composition).

A group of modelled consumers (`group.Group`) and a group of real Kafka clients
(`classic.ClientGroup`) are two drivers of one coordinator: each HAS a `Coordinator` (the
state, the generation, the leader, the members in join order, the join barrier's timer) and an
`offsets.Offsets` store. Neither is the other: the modelled driver decides when its consumers
rejoin and runs the assignor itself; the client driver only answers its clients' requests.

- `TRANSITIONS` is Kafka's ``ClassicGroupState``: the states a group may move to from each
  state. `Coordinator.transition` takes no other edge (a bug in the model raises at once) and
  says every move as ``group.state_changed``.
- `STATE_ANSWERS` is what a state answers to a request once the member and its generation
  check out, as Kafka's GroupCoordinator decides by ``group.currentState``: refused (a
  `GroupError`, nothing changes), answered at once, or kept until a barrier falls.
- The join timer is the initial rebalance delay of an Empty group (Kafka's
  InitialDelayedJoin: ``group.initial.rebalance.delay.ms``, extended for each newcomer up to
  the rebalance timeout) or the join deadline (DelayedJoin: the rebalance timeout); either way,
  when it runs out the driver's `on_join_over` completes the join as that driver does.

What the cluster and the hosts may use of any group, whichever kind, is `ConsumerGroup`.
"""

from typing import Protocol

from . import events as ev
from .errors import CommandError
from .offsets import Offsets

EMPTY = "Empty"
PREPARING = "PreparingRebalance"
COMPLETING = "CompletingRebalance"
STABLE = "Stable"
DEAD = "Dead"

TRANSITIONS: dict[str, tuple[str, ...]] = {
    EMPTY: (PREPARING, DEAD),
    PREPARING: (COMPLETING, EMPTY, DEAD),
    COMPLETING: (PREPARING, STABLE, DEAD),
    STABLE: (PREPARING, DEAD),
    DEAD: (),
}

MODELLED = "modelled"  # ConsumerGroup.kind: consumers the model runs (group.py)
CLIENTS = "clients"    # real Kafka clients over the wire (classic.py)


class GroupError(CommandError):
    """A request Kafka's coordinator would refuse with `error` (a Kafka error name). Like any
    CommandError, nothing changed."""

    def __init__(self, field: str, message: str, error: str):
        super().__init__(field, message)
        self.error = error


# What each state answers a request from a known member of the current generation. An entry
# is ("refuse", Kafka error, the command field blamed, message: {group} is the group id's
# repr), ("answer", Kafka error): accepted and answered at once ("NONE": no error; a Heartbeat
# answered REBALANCE_IN_PROGRESS still keeps its session, which is how members learn to
# rejoin), or ("wait",): accepted, answered when the barrier falls. A Dead group is deleted
# from the cluster, so no request reaches one; its rows say what Kafka answers.
REFUSE, ANSWER, WAIT = "refuse", "answer", "wait"
STATE_ANSWERS: dict[str, dict[str, tuple]] = {
    "heartbeat": {
        EMPTY: (REFUSE, "UNKNOWN_MEMBER_ID", "member_id", "group {group} is Empty"),
        PREPARING: (ANSWER, "REBALANCE_IN_PROGRESS"),
        COMPLETING: (ANSWER, "NONE"),
        STABLE: (ANSWER, "NONE"),
        DEAD: (REFUSE, "COORDINATOR_NOT_AVAILABLE", "group", "group {group} is Dead"),
    },
    "sync": {
        EMPTY: (REFUSE, "UNKNOWN_MEMBER_ID", "member_id", "group {group} is Empty"),
        PREPARING: (REFUSE, "REBALANCE_IN_PROGRESS", "generation",
                    "group {group} is preparing a rebalance"),
        COMPLETING: (WAIT,),        # for the leader's SyncGroup and its assignment
        STABLE: (ANSWER, "NONE"),   # the member's current assignment
        DEAD: (REFUSE, "COORDINATOR_NOT_AVAILABLE", "group", "group {group} is Dead"),
    },
    "commit": {
        EMPTY: (ANSWER, "NONE"),
        PREPARING: (ANSWER, "NONE"),
        COMPLETING: (REFUSE, "REBALANCE_IN_PROGRESS", "generation",
                     "the group is completing a rebalance"),
        STABLE: (ANSWER, "NONE"),
        DEAD: (REFUSE, "COORDINATOR_NOT_AVAILABLE", "group", "group {group} is Dead"),
    },
}


class Coordinator:
    """One group's coordinator state: what both drivers share of Kafka's ClassicGroup."""

    __slots__ = ("cluster", "group_id", "state", "generation", "leader", "members",
                 "join_timer", "join_deadline_ms", "join_initial", "new_member_added",
                 "on_join_over", "next_member_number")

    def __init__(self, cluster, group_id: str, on_join_over, generation: int = 0,
                 next_member_number: int = 1):
        self.cluster = cluster
        self.group_id = group_id
        self.state = EMPTY
        self.generation = generation
        self.leader: str | None = None
        self.members: dict = {}        # member id -> the driver's member, in join order
        self.join_timer = None
        self.join_deadline_ms = 0
        self.join_initial = False      # the join timer is the initial delay, not the deadline
        self.new_member_added = False  # a newcomer arrived during the initial delay
        self.on_join_over = on_join_over  # the driver's: the join timer ran out
        # The number the next modelled consumer without an id is given (`<group>-<n>`); it
        # stays with the group id when the group changes hands (classic.convert).
        self.next_member_number = next_member_number

    def subscribed_topics(self) -> list[str]:
        """Every topic some member reads (both kinds of member keep theirs in `topics`)."""
        return sorted({name for member in self.members.values() for name in member.topics})

    def transition(self, to: str) -> None:
        if to not in TRANSITIONS[self.state]:
            raise AssertionError(f"group {self.group_id}: illegal transition {self.state} -> "
                                 f"{to}")
        before = self.state
        self.state = to
        ev.group_state_changed(self.cluster, group=self.group_id, **{"from": before},
                               to=to, generation=self.generation)

    def answer(self, request: str) -> str:
        """What the current state answers `request` (a key of STATE_ANSWERS): raises the
        refusal as a GroupError, else returns the Kafka error name to answer with ("NONE"),
        or WAIT."""
        entry = STATE_ANSWERS[request][self.state]
        if entry[0] == REFUSE:
            _, error, field, message = entry
            raise GroupError(field, message.format(group=repr(self.group_id)), error)
        return entry[1] if entry[0] == ANSWER else WAIT

    # -- the join timer -------------------------------------------------------------------------

    def start_initial_delay(self, timeout_ms: int) -> None:
        """An Empty group starts rebalancing: wait group.initial.rebalance.delay.ms, extended
        by as much again for each newcomer, never past the rebalance timeout."""
        clock = self.cluster.clock
        now = clock.now_ms
        delay = self.cluster.config["group.initial.rebalance.delay.ms"]
        self.join_initial = True
        self.new_member_added = False
        self.join_deadline_ms = now + max(timeout_ms, delay)
        self.join_timer = clock.at(now + delay, self._initial_delay_over)

    def start_join_deadline(self, timeout_ms: int) -> None:
        """A rebalance of a group with members: the join completes at the rebalance timeout
        at the latest (members that have not rejoined by then are removed)."""
        clock = self.cluster.clock
        self.join_initial = False
        self.join_timer = clock.at(clock.now_ms + timeout_ms, self._join_deadline)

    def newcomer_during_delay(self) -> None:
        """A member joined while the group prepares a rebalance: during the initial delay, it
        earns the group another delay."""
        if self.join_initial and self.join_timer is not None:
            self.new_member_added = True

    def cancel_join_timer(self) -> None:
        if self.join_timer is not None:
            self.join_timer.cancel()
            self.join_timer = None

    def _initial_delay_over(self, _) -> None:
        self.join_timer = None
        now = self.cluster.clock.now_ms
        remaining = self.join_deadline_ms - now
        if self.new_member_added and remaining > 0:
            self.new_member_added = False
            delay = min(self.cluster.config["group.initial.rebalance.delay.ms"], remaining)
            self.join_timer = self.cluster.clock.at(now + delay, self._initial_delay_over)
            return
        self.on_join_over()

    def _join_deadline(self, _) -> None:
        self.join_timer = None
        self.on_join_over()


class ConsumerGroup(Protocol):
    """What the cluster, the read path and the rooms use of a group, whichever kind it is
    (`group.Group`: modelled consumers; `classic.ClientGroup`: real clients). Anything else
    belongs to one driver, and a caller that needs it asks `kind` first."""

    id: str
    kind: str             # MODELLED or CLIENTS
    external: bool        # kind == CLIENTS: real clients, whose requests drive the group
    config: dict          # GROUP_DEFAULTS' keys; a client group keeps them for a takeover
    core: Coordinator
    offsets: Offsets
    # Member id -> member, in join order. Any member has `id`, `topics`, `declared`, `owned`
    # (its Partitions, sorted) and `state()` (the page's dict of it).
    members: dict

    @property
    def state(self) -> str: ...

    @property
    def generation(self) -> int: ...

    @property
    def leader(self) -> str | None: ...

    @property
    def committed(self) -> dict: ...          # offsets.committed

    @property
    def occupied(self) -> bool: ...           # members, or members pending a second join

    def subscribed_topics(self) -> list[str]: ...

    def topic_changed(self, reason: str) -> None: ...   # a subscribed topic came, went, grew

    def forget_partitions(self, parts: list) -> None: ...  # their topic was deleted

    def log_truncated(self, part) -> None: ...  # a leader change cut `part`'s log back

    def delete(self) -> None: ...  # Dead: nothing of it may come due later

    def lag_rows(self) -> list[dict]: ...

    def snapshot(self) -> dict: ...
