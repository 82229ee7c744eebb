"""Hard limits on what one room's model may grow to: partitions per topic and per room, topics
per room, records/s per modelled producer and per room (issue 11).

The model itself takes up to 1,000 partitions a topic and 100,000 records/s a producer; one
room near those numbers costs gigabytes and seconds of CPU a tick, and its snapshot no longer
fits a WebSocket frame. A playground shares one server among a class, so each room is held to
far less. `Quotas.check_command(cluster, command)` runs before the model sees a command
(`Room._apply`, hence the page, narration steps and the Kafka listener alike); `check_spec`
judges a whole scenario (its topics, groups, producers, timeline and narration steps) before a
room is built from it or a document is imported.

What counts
-----------
A room's topics and partitions are its *footprint*: the topics it has, plus the retry and
dead-letter topics its consumer groups may still create (broker_core creates those by itself,
inside `advance`, where no host can refuse them; delivery.py says when). Counting them when
the group or consumer that would create them is added is what keeps the limit hard. A
retry topic or dead-letter topic is sized like its source topic, as the model creates it.

A command is refused only when it makes the footprint (or the producers' rate) *grow* past a
limit, so a room built before a limit was lowered keeps working: it cannot grow further, and
anything that shrinks it or leaves it as it is passes. A command the model would refuse anyway
(bad types, unknown topics) is left for the model to refuse with its own message.

What is not counted: records real Kafka clients produce (each arrives as a request through
the listener, whose connections and buffers are bounded). A consumer that emits in a pipeline
is held to a producer's rate at its full speed (fanout per processing time).
Timeline commands of a scenario run inside the model without passing here; `check_spec` is
what holds them to the limits. A viewer's command is checked against what the room holds
when it arrives, so a timeline that adds topics or producers *later* can take a room past a
limit by at most what the timeline itself adds: twice the limit at worst, never without end.
"""

import math
from dataclasses import dataclass

from broker_core import validate
from broker_core.delivery import (
    MAX_ATTEMPTS,
    RETRY_MODES,
    dead_letter_topic_name,
    retry_topic_name,
)
from broker_core.errors import CommandError
from broker_core.group import GROUP_DEFAULTS

# The kinds of command that can add topics or partitions (directly, or through the retry and
# dead-letter topics a group may create) or raise the rate of the room's producers. Anything
# else passes without a look: the check runs on every command, wire heartbeats included.
GROWING = frozenset({"topic.create", "topic.add_partitions", "consumer.add", "group.configure",
                     "producer.add"})
MAX_SPEC_ERRORS = 200  # as broker_core.scenario: a hopeless document reports this many


class QuotaError(CommandError):
    """A command one of the room's limits refuses; like any CommandError, nothing changed.
    `setting` names the Django setting that holds the limit; `error` is the Kafka error a
    wire client gets (POLICY_VIOLATION: what Kafka answers when its CreateTopicPolicy refuses,
    in CreateTopics and in Metadata's auto-creation alike; INVALID_PARTITIONS for one topic's
    partition count, as the model's own partition limit answers)."""

    def __init__(self, field: str, message: str, setting: str,
                 error: str = "POLICY_VIOLATION"):
        super().__init__(field, message)
        self.setting = setting
        self.error = error


def _n(value) -> str:
    """1000 -> "1,000"; 2.5 -> "2.5"."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}"


def _whole(command: dict, name: str, default=None) -> int | None:
    """The whole number the model reads from `command[name]` (it takes 100.0 and "100" too),
    or None where the model would refuse it."""
    try:
        return validate.integer(command, name, default=default)
    except CommandError:
        return None


def _rate(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Quotas:
    topic_partitions: int = 100
    room_partitions: int = 300
    room_topics: int = 50
    producer_rate: float = 1_000
    room_rate: float = 2_000

    @classmethod
    def from_settings(cls) -> "Quotas":
        from django.conf import settings

        return cls(topic_partitions=settings.PLAYGROUND_TOPIC_PARTITIONS_MAX,
                   room_partitions=settings.PLAYGROUND_ROOM_PARTITIONS_MAX,
                   room_topics=settings.PLAYGROUND_ROOM_TOPICS_MAX,
                   producer_rate=settings.PLAYGROUND_PRODUCER_RATE_MAX,
                   room_rate=settings.PLAYGROUND_ROOM_RATE_MAX)

    # -- one command ------------------------------------------------------------------------

    def check_command(self, cluster, command) -> None:
        """Raise QuotaError (a CommandError: field, message) if `command` would take the
        room past one of its limits; the message names the limit, its value and its setting."""
        if not isinstance(command, dict):
            return
        kind = command.get("type")
        if kind not in GROWING:
            return
        if kind == "producer.add":
            self._check_rate(cluster, command)
            return
        if kind == "consumer.add":
            self._check_emitter(command)
        sizes = {name: len(t.partitions) for name, t in cluster.topics.items()}
        groups = _subscriptions(cluster)
        before = footprint(sizes, groups)
        field = "partitions"
        if kind == "topic.create":
            name = command.get("name")
            if not isinstance(name, str) or name in sizes:
                return
            default = cluster.config["num.partitions"] if command.get("auto") is True else 1
            partitions = _whole(command, "partitions", default)
            if partitions is None or partitions < 1:
                return
            self._check_topic_partitions(partitions)
            sizes = {**sizes, name: partitions}
        elif kind == "topic.add_partitions":
            name = command.get("name")
            total = _whole(command, "partitions")
            if not isinstance(name, str) or name not in sizes or total is None \
                    or total <= sizes[name]:
                return
            self._check_topic_partitions(total)
            sizes = {**sizes, name: total}
        elif kind == "consumer.add":
            gid, topics = command.get("group"), command.get("topics")
            if not isinstance(gid, str) or not isinstance(topics, list) or not all(
                    isinstance(t, str) for t in topics):
                return
            config, declared = groups.get(gid, (_group_config(cluster, gid), set()))
            groups = {**groups, gid: (config, declared | set(topics))}
            field = "topics"
        else:  # group.configure: a new delivery policy may mean more retry or DLT topics
            gid = command.get("group")
            if not isinstance(gid, str) or gid not in groups:
                return  # no members yet: the consumers that join are checked then
            config, declared = groups[gid]
            groups = {**groups, gid: (_configured(config, command), declared)}
            field = next((k for k in ("retry_mode", "max_attempts", "dead_letter_topic")
                          if k in command), "group")
        self._check_room(before, footprint(sizes, groups), field)

    def _check_topic_partitions(self, partitions: int) -> None:
        if partitions > self.topic_partitions:
            raise QuotaError("partitions", f"at most {_n(self.topic_partitions)} partitions per "
                             "topic in this playground (PLAYGROUND_TOPIC_PARTITIONS_MAX), not "
                             f"{_n(partitions)}", "PLAYGROUND_TOPIC_PARTITIONS_MAX",
                             "INVALID_PARTITIONS")

    def _check_room(self, before: dict, after: dict, field: str) -> None:
        why = " (counting the retry and dead-letter topics its groups may create)" \
            if _has_delivery(after) else ""
        if len(after) > max(len(before), self.room_topics):
            raise QuotaError(field, f"at most {_n(self.room_topics)} topics per room in this "
                             f"playground (PLAYGROUND_ROOM_TOPICS_MAX); this would make "
                             f"{_n(len(after))}{why}", "PLAYGROUND_ROOM_TOPICS_MAX")
        total_before, total_after = _total(before), _total(after)
        if total_after > max(total_before, self.room_partitions):
            raise QuotaError(field, f"at most {_n(self.room_partitions)} partitions per room in "
                             f"this playground (PLAYGROUND_ROOM_PARTITIONS_MAX); this would "
                             f"make {_n(total_after)}{why}", "PLAYGROUND_ROOM_PARTITIONS_MAX")

    def _check_rate(self, cluster, command: dict) -> None:
        rate = _rate(command.get("rate_per_s"))
        pid = command.get("id")
        if rate is None or rate <= 0 or (isinstance(pid, str) and pid in cluster.producers):
            return  # the model refuses these with its own words
        if rate > self.producer_rate:
            raise QuotaError("rate_per_s", f"at most {_n(self.producer_rate)} records/s per "
                             "producer in this playground (PLAYGROUND_PRODUCER_RATE_MAX), not "
                             f"{_n(rate)}", "PLAYGROUND_PRODUCER_RATE_MAX")
        running = sum(p.rate_per_s for p in cluster.producers.values())
        if running + rate > max(running, self.room_rate):
            raise QuotaError("rate_per_s", f"at most {_n(self.room_rate)} records/s across a "
                             "room's producers in this playground (PLAYGROUND_ROOM_RATE_MAX); "
                             f"its producers send {_n(running)}/s already",
                             "PLAYGROUND_ROOM_RATE_MAX")

    def _check_emitter(self, command: dict) -> None:
        """A consumer that emits is a producer too: at full speed it sends the sum of its
        fanouts per record processed, so its rate is held to a producer's limit. (Without this,
        one 1 ms consumer with a fanout of 100 made 100,000 records/s from a 10/s producer.)"""
        emits = command.get("emits")
        if not isinstance(emits, list) or not emits:
            return
        fanout = 0
        for item in emits:
            n = item.get("fanout", 1) if isinstance(item, dict) else None
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                return  # the model refuses it with its own words
            fanout += n
        processing = command.get("processing_ms", 0)
        if isinstance(processing, dict):
            processing = processing.get("min")
        if isinstance(processing, bool) or not isinstance(processing, int) or processing < 0:
            return
        rate = fanout * 1000 / max(processing, 1)
        if rate > self.producer_rate:
            raise QuotaError("emits", f"this consumer could emit {_n(rate)} records/s (a fanout "
                             f"of {_n(fanout)} every {_n(max(processing, 1))} ms); a consumer "
                             f"that emits is held to a producer's {_n(self.producer_rate)} "
                             "records/s in this playground (PLAYGROUND_PRODUCER_RATE_MAX): "
                             "raise processing_ms or lower the fanout",
                             "PLAYGROUND_PRODUCER_RATE_MAX")

    # -- a whole scenario -------------------------------------------------------------------

    def spec_errors(self, spec: dict) -> list[dict]:
        """``[{"path", "message"}]``: where a normalized scenario (validate_scenario's output)
        goes past a limit. Its commands are applied in run order on a scratch cluster, all at
        one instant as validate_scenario checks them (so producers stopped by then no longer
        count), then the narration steps' commands in order; a command over a limit is
        reported at its JSON path and skipped."""
        from broker_core import Cluster
        from broker_core.scenario import _expand_with_origins, field_path, path_key

        errors: list[dict] = []
        try:
            scratch = Cluster(seed=spec.get("seed", 0), brokers=spec["brokers"],
                              config=spec.get("cluster_config") or {})
        except (CommandError, KeyError, TypeError):
            return errors  # not a valid spec: validate_scenario reports it
        auto = scratch.config["num.partitions"]  # what every auto-created topic gets
        if auto > self.topic_partitions:
            errors.append({"path": path_key("$.cluster_config", "num.partitions"),
                           "message": f"at most {_n(self.topic_partitions)} partitions per "
                           "topic in this playground (PLAYGROUND_TOPIC_PARTITIONS_MAX), not "
                           f"{_n(auto)}"})

        def attempt(command, base: str, fields: dict) -> None:
            try:
                self.check_command(scratch, command)
            except QuotaError as e:
                if len(errors) < MAX_SPEC_ERRORS:
                    errors.append({"path": field_path(command, e.field, base, fields),
                                   "message": e.message})
                return
            try:
                scratch.apply(command)
            except CommandError:
                pass  # the model's own refusal: validate_scenario's to report

        # Private to broker_core.scenario, but the one place that knows each expanded
        # command's document path; validate_scenario uses it the same way.
        for entry, (base, fields) in _expand_with_origins(spec):
            attempt(entry["command"], base, fields)
        for i, step in enumerate(spec.get("steps") or []):
            for j, command in enumerate((step or {}).get("commands") or []):
                if isinstance(command, dict):
                    attempt(command, f"$.steps[{i}].commands[{j}]", {})
        return errors

    def check_spec(self, spec: dict) -> None:
        """Raise broker_core's ScenarioError (``errors``: ``[{"path", "message"}]``) if the
        normalized scenario `spec` goes past a limit anywhere; see `spec_errors`."""
        from broker_core.scenario import ScenarioError

        errors = self.spec_errors(spec)
        if errors:
            raise ScenarioError(errors)


# -- the footprint ------------------------------------------------------------------------------

_DELIVERY = object()  # marks a projected (not yet created) topic in a footprint


def _subscriptions(cluster) -> dict[str, tuple[dict, set]]:
    """Group id -> (its config, every topic its consumers declared), for the modelled groups
    with members (real clients' groups have no delivery policy)."""
    out = {}
    for gid, group in cluster.groups.items():
        if group.external or not group.members:
            continue
        declared = set()
        for member in group.members.values():
            declared.update(member.declared)
        out[gid] = (group.config, declared)
    return out


def _group_config(cluster, gid: str) -> dict:
    group = cluster.groups.get(gid)
    # A group of real clients taken over by a modelled consumer keeps its config (convert).
    return group.config if group is not None else GROUP_DEFAULTS


def _configured(config: dict, command: dict) -> dict:
    """The delivery fields of a group.configure command over `config`; a value the model
    would refuse is left out (the model refuses the command)."""
    out = dict(config)
    if command.get("retry_mode") in RETRY_MODES:
        out["retry_mode"] = command["retry_mode"]
    attempts = _whole(command, "max_attempts")
    if attempts is not None and 1 <= attempts <= MAX_ATTEMPTS:
        out["max_attempts"] = attempts
    if "dead_letter_topic" in command and (command["dead_letter_topic"] is None or isinstance(
            command["dead_letter_topic"], str)):
        out["dead_letter_topic"] = command["dead_letter_topic"]
    return out


def footprint(sizes: dict[str, int], groups: dict[str, tuple[dict, set]]) -> dict:
    """Topic name -> partitions: the topics `sizes` holds, plus each retry and dead-letter
    topic a group in `groups` may create for a source topic that exists, sized like its
    source (as `Cluster.delivery_topic` creates them). Projected entries are ``(partitions,
    _DELIVERY)`` pairs so a refusal can say they were counted."""
    out: dict = dict(sizes)
    for config, declared in groups.values():
        attempts = config.get("max_attempts", 1)
        retries = range(1, attempts) if config.get("retry_mode") == "topics" else ()
        for source in sorted(declared):
            partitions = sizes.get(source)
            if partitions is None:
                continue  # counted when the topic is created, with this group's projection
            names = [retry_topic_name(source, i) for i in retries]
            names.append(dead_letter_topic_name(config, source))
            for name in names:
                if name in sizes:
                    continue
                held = out.get(name)
                if held is None or held[0] < partitions:
                    out[name] = (partitions, _DELIVERY)
    return out


def _has_delivery(fp: dict) -> bool:
    return any(isinstance(v, tuple) for v in fp.values())


def _total(fp: dict) -> int:
    return sum(v[0] if isinstance(v, tuple) else v for v in fp.values())


__all__ = ["GROWING", "QuotaError", "Quotas", "footprint"]
