"""Narration on the clock: each step of a scenario's story names the moment it is true.

A step may say ``at`` (a virtual time: "20s") and/or ``when`` (an event filter such as
``{"type": "broker.stopped", "broker": 1}``). Its moment is the first instant at or after
``at`` with a matching event (just ``at`` without ``when``; just the first match without
``at``). A step with neither is about whatever is on the screen: its moment is when the viewer
gets there. A step with ``commands`` makes its own moment (the commands run when Next is
pressed), so it takes neither.

The host (playground's room) runs the cluster to a step's moment when the presenter presses
Next and rewinds to it on Back; `Moments` remembers when each ``when`` first matched, so
going back to a step whose event is in the past needs no search. `walk` does the same for a
scenario alone (tests and the command line): it visits every step's moment in order.
"""

from .errors import CommandError
from .events import BULK, CATALOGUE
from .report import matches

# Every event type the model announces; a `when` naming another could never match.
EVENT_TYPES = frozenset(CATALOGUE)

WHEN_KEYS = ("type", "topic", "partition", "group", "consumer", "producer", "broker", "key")


def check_when(value, field: str = "when") -> dict:
    """A step's `when` filter, checked; raises CommandError naming the field and the rule."""
    if not isinstance(value, dict):
        raise CommandError(field, "must be an event filter such as {\"type\": "
                           "\"broker.stopped\", \"broker\": 1}")
    for key, v in value.items():
        if key not in WHEN_KEYS:
            raise CommandError(f"{field}.{key}", "unknown key; a when filter takes "
                               + ", ".join(WHEN_KEYS))
        if key in ("partition", "broker"):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 9_999:
                raise CommandError(f"{field}.{key}", "must be a whole number")
        elif not isinstance(v, str) or not v or len(v) > 200:
            raise CommandError(f"{field}.{key}", "must be a non-empty string")
    kind = value.get("type")
    if kind is None:
        raise CommandError(f"{field}.type", "is required: the event that makes the moment, "
                           "such as broker.stopped")
    if kind not in EVENT_TYPES:
        raise CommandError(f"{field}.type", f"no event is called {kind!r}; events include "
                           "broker.stopped, partition.leader_elected, record.lost, "
                           "record.dead_lettered, group.rebalance_completed")
    return dict(value)


def waits_for_event(step: dict) -> bool:
    return bool(step) and step.get("when") is not None


def has_moment(step: dict) -> bool:
    return bool(step) and (step.get("at_ms") is not None or step.get("when") is not None)


def predicate(step: dict):
    """`until` for Cluster.advance_to: the first event that makes the step's moment."""
    flt = step["when"]
    after = step.get("at_ms") or 0
    return lambda e: e["t_ms"] >= after and matches(e, flt)


class Moments:
    """When each ``when`` step's event first happened (at or after its ``at``), read from the
    event stream as it passes. A rebuilt cluster (wake, seek, rewind) gets new Moments that
    see its whole run again."""

    def __init__(self, steps: list):
        # The steps still waiting, by the event type they wait for: every event of a room
        # passes here, and costs one dict look-up unless a step waits for its type.
        self.waiting: dict[str, dict[int, object]] = {}
        for i, s in enumerate(steps):
            if waits_for_event(s):
                self.waiting.setdefault(s["when"]["type"], {})[i] = predicate(s)
        self.found: dict[int, int] = {}

    def observe(self, events: list[dict]) -> None:
        waiting = self.waiting
        if not waiting:
            return
        for e in events:
            tests = waiting.get(e["type"])
            if tests is None:
                continue
            for i, test in list(tests.items()):
                if test(e):
                    self.found[i] = e["t_ms"]
                    del tests[i]
            if not tests:
                del waiting[e["type"]]
                if not waiting:
                    return

    def wants_records(self) -> bool:
        """Whether a step still waits for a per-record event (events.BULK): then the host
        must see those one by one, not folded into counts."""
        return any(kind in BULK for kind in self.waiting)

    def moment(self, steps: list, i: int) -> int | None:
        """Step i's moment if it is known now: its `at`, or when its event happened."""
        step = steps[i]
        if waits_for_event(step):
            return self.found.get(i)
        return step.get("at_ms")


def walk(cluster, steps: list, limit_ms: int, slice_events: int = 20_000):
    """Visit each step's moment in order on `cluster` (a scenario run alone, fresh), yielding
    ``(index, moment_ms or None)`` with the cluster at that moment when it lies ahead. A step
    whose event has not happened by `limit_ms` yields None (the cluster at `limit_ms`); one
    whose moment has passed yields it with the cluster where it is (the room rewinds there).
    A step's commands run when it is reached, as Next runs them."""
    moments = Moments(steps)

    def run(t_ms: int, step: int | None = None) -> None:
        """Up to `t_ms`, or until `step`'s event has happened (`moments` saw it)."""
        until = None if step is None else predicate(steps[step])
        while cluster.now_ms < t_ms and step not in moments.found:
            moments.observe(cluster.advance_to(t_ms, max_events=slice_events, until=until))

    for i, step in enumerate(steps):
        for command in step.get("commands") or []:
            moments.observe(cluster.apply(command))
        if not has_moment(step):
            yield i, cluster.now_ms
            continue
        at = min(step.get("at_ms") or 0, limit_ms)
        if at > cluster.now_ms:
            run(at)
        if waits_for_event(step):
            run(limit_ms, i)
        yield i, moments.moment(steps, i)


def shows(cluster, watch: dict | None) -> str | None:
    """What a step's `watch` target shows on `cluster` now, in one line for people; None when
    the target is not there (no such topic, group, consumer, producer or record): a step must
    never point at nothing."""
    if watch is None:
        return "nothing in particular"
    if "broker" in watch:
        b = cluster.brokers.get(watch["broker"])
        if b is None:
            return None
        state = "up" if b["up"] else "down"
        crown = ", the controller" if cluster.controller == watch["broker"] else ""
        return f"broker {watch['broker']} {state}{crown}"
    if "record" in watch:
        name, partition, offset = watch["record"].rsplit("/", 2)
        topic = cluster.topics.get(name)
        if topic is None or int(partition) >= len(topic.partitions):
            return None
        part = topic.partitions[int(partition)]
        log = part.leader_log
        offset = int(offset)
        if not log.start_offset <= offset < log.end_offset:
            return None
        return (f"record {watch['record']} key {log.key_at(offset)!r} on leader {part.leader}, "
                f"high watermark {part.high_watermark}")
    if "topic" in watch:
        topic = cluster.topics.get(watch["topic"])
        if topic is None:
            return None
        parts = topic.partitions if "partition" not in watch else \
            topic.partitions[watch["partition"]:watch["partition"] + 1]
        if not parts:
            return None
        return "; ".join(f"{watch['topic']}/{p.index} leader {p.leader} isr {p.isr} "
                         f"offsets {p.leader_log.start_offset}-{p.leader_log.end_offset}"
                         for p in parts)
    if "group" in watch:
        group = cluster.groups.get(watch["group"])
        if group is None:
            return None
        if "consumer" in watch:
            member = group.members.get(watch["consumer"])
            if member is None:
                return None
            state = member.state()
            return (f"{watch['consumer']} {state['status']}"
                    f"{' hung' if state['hangs'] else ''} owns {state['partitions']}")
        return f"group {watch['group']} {group.state}, members {sorted(group.members)}"
    if "producer" in watch:
        producer = cluster.producers.get(watch["producer"])
        return None if producer is None else \
            f"producer {watch['producer']} sent {producer.state()['sent']}"
    return None
