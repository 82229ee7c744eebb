"""Replication, the controller and broker failures (ZooKeeper mode).

Theory of operation
-------------------
Followers copy from their partition's leader in virtual time: a fetch leaves at the next tick of
``replica.fetch.interval.ms`` after the leader has something new, and its answer arrives
``replica.fetch.delay.ms`` later (0 by default; `broker.configure` slows one broker down). The
high watermark is the lowest log end offset across the ISR.

The ISR is kept as Kafka's leader keeps it. Each follower has a *last caught-up time*: a fetch
that asks for the leader's log end proves the follower caught up at that moment; one that asks
for at least what the leader had at the previous fetch proves it caught up at the previous
fetch (``Replica.updateFetchState``). A follower with nothing to fetch is caught up
continuously (``None`` below), because a real one long-polls. A follower whose last caught-up
time is more than ``replica.lag.time.max.ms`` old is dropped at the leader's next ISR check
(every half of that); it comes back once its log end reaches the high watermark.

The controller is whichever live broker created the ephemeral ``/controller`` node. It learns
about brokers only through ZooKeeper: a broker stopped cleanly closes its session at once and
first asks the controller to move its leaderships away (controlled shutdown); a crashed broker
is noticed only when its session expires, ``zookeeper.session.timeout.ms`` (18 s) later. Until
then the partitions it leads are unreachable and nobody elects anyone: that gap is the cost of
a crash. When the controller's own broker goes, the others race for ``/controller`` (the winner
is drawn from the seed) and the new controller looks at every partition.

Leader election takes the first replica, in assignment order, that is alive and in the ISR; with
``unclean.leader.election.enable`` it may take any live replica. With none the partition goes
offline (no leader; the ISR keeps its last member, as ZooKeeper-mode Kafka does). Each change
raises the leader epoch. A new leader's log may lack records the old leader had: those are cut
where the two logs diverge by leader epoch (KIP-101). Acknowledged ones among them are lost and
announced, each by a `record.lost`; unacknowledged ones (`record.truncated`) go back to their
producer, which retries them. A replica that comes back truncates to its leader the same way,
catches up, rejoins the ISR, and the periodic preferred-leader check gives it back the
leaderships it is first in line for.
"""

from functools import partial

from . import events as ev
from . import validate as v
from .clock import next_tick
from .errors import CommandError


class AckWaiter:
    """A consumer inside the model waiting for the records it sent (pipeline outputs, retry and
    dead-letter forwards) to be acknowledged, as Spring waits for a send's result before it
    counts the record done and commits. `callback(error)` runs once, at the same virtual
    instant but never inside the acknowledging code: error is None when every record was
    acknowledged, else the Kafka error of the first that was not."""

    __slots__ = ("cluster", "keys", "callback", "done")

    def __init__(self, cluster, callback=None):
        self.cluster = cluster
        self.keys: set = set()
        self.callback = callback
        self.done = False

    def add(self, key: tuple) -> None:
        self.keys.add(key)
        self.cluster.ack_waiters[key] = self

    def acked(self, key: tuple) -> None:
        self.keys.discard(key)
        if not self.keys and not self.done:
            self._finish(None)

    def failed(self, error: str) -> None:
        if not self.done:
            self._finish(error)

    def cancel(self) -> None:
        self.done = True
        self._forget()

    def _forget(self) -> None:
        waiters = self.cluster.ack_waiters
        for key in self.keys:
            if waiters.get(key) is self:
                del waiters[key]
        self.keys.clear()

    def _finish(self, error) -> None:
        self.done = True
        self._forget()
        clock = self.cluster.clock
        clock.at(clock.now_ms, self.callback, error)


# -- brokers ------------------------------------------------------------------------------


def broker_arg(cluster, c: dict) -> int:
    b = v.integer(c, "broker", minimum=1, maximum=max(cluster.brokers))
    if b not in cluster.brokers:
        raise CommandError("broker", f"no broker {b}")
    return b


def broker_stop(cluster, c: dict) -> None:
    v.check_fields(c, frozenset({"type", "broker", "mode"}))
    b = broker_arg(cluster, c)
    mode = v.choice(c, "mode", ("clean", "crash"), default="clean")
    if not cluster.brokers[b]["up"]:
        raise CommandError("broker", f"broker {b} is already stopped")
    if mode == "clean":
        controlled_shutdown(cluster, b)
    else:
        crash(cluster, b)


def controlled_shutdown(cluster, b: int) -> None:
    ev.broker_stopping(cluster, broker=b, mode="clean")
    if controller_working(cluster):
        # The controller moves every leadership it can, then takes the broker out of the
        # ISRs, so clients see one clean hand-over instead of an outage.
        for part in partitions(cluster):
            if part.leader == b:
                target = next((r for r in part.replicas if r != b and r in part.isr
                               and alive(cluster, r)), None)
                if target is not None:
                    elect(cluster, part, target, unclean=False,
                                reason=f"controlled shutdown of broker {b}")
            if part.leader != b and b in part.isr and len(part.isr) > 1:
                set_isr(cluster, part, [r for r in part.isr if r != b],
                              f"broker {b} is shutting down")
    go_down(cluster, b)
    cluster.brokers[b]["registered"] = False
    cluster.brokers[b]["stopped"] = "clean"  # how it went down: a page draws the two apart
    ev.broker_stopped(cluster, broker=b, mode="clean")
    cluster.zk_delete(f"/brokers/ids/{b}")
    after_session_end(cluster, b)


def crash(cluster, b: int) -> None:
    go_down(cluster, b)
    expires = cluster.clock.now_ms + cluster.config["zookeeper.session.timeout.ms"]
    cluster.brokers[b]["session_expires_ms"] = expires
    cluster.brokers[b]["stopped"] = "crash"
    # When its follower replicas fall out of the ISRs (a page counts it down on them).
    leaves = cluster.brokers[b]["leaves_isr_ms"] = isr_leave_ms(cluster, b, cluster.clock.now_ms)
    cluster.session_timers[b] = cluster.clock.at(expires, partial(session_expired, cluster), b)
    ev.broker_stopped(cluster, broker=b, mode="crash", session_expires_ms=expires,
                      leaves_isr_ms=leaves)


def go_down(cluster, b: int) -> None:
    cluster.brokers[b]["up"] = False
    now = cluster.clock.now_ms
    for part in partitions(cluster):
        if b not in part.replicas:
            continue
        timer = part.fetch_timers.pop(b, None)
        if timer is not None:
            timer.cancel()
        if part.leader == b:
            part.online = False
        elif b in part.isr and part.caught_up.get(b) is None:
            # It stops fetching now; if nobody removes it first, the leader's ISR check
            # finds it stale one replica.lag.time.max.ms later.
            part.caught_up[b] = now
            schedule_isr_check(cluster, part)


def session_expired(cluster, b: int) -> None:
    cluster.session_timers.pop(b, None)
    cluster.brokers[b]["registered"] = False
    cluster.brokers[b].pop("session_expires_ms", None)
    cluster.brokers[b].pop("leaves_isr_ms", None)
    ev.broker_session_expired(cluster, broker=b,
                              session_timeout_ms=cluster.config["zookeeper.session.timeout.ms"])
    cluster.zk_delete(f"/brokers/ids/{b}")
    after_session_end(cluster, b)


def after_session_end(cluster, b: int) -> None:
    if cluster.controller == b:
        cluster.zk_delete("/controller")
        cluster.controller = None
        elect_controller(cluster, f"broker {b}, the controller, went away")
    reconcile(cluster)


def broker_start(cluster, c: dict) -> None:
    v.check_fields(c, frozenset({"type", "broker"}))
    b = broker_arg(cluster, c)
    if cluster.brokers[b]["up"]:
        raise CommandError("broker", f"broker {b} is already running")
    if cluster.brokers[b]["registered"]:
        # Restarted before its old session expired: the new session replaces the old
        # one, which the controller sees as the broker going away and coming back.
        cluster.session_timers.pop(b).cancel()
        session_expired(cluster, b)
    cluster.brokers[b]["up"] = True
    cluster.brokers[b]["registered"] = True
    cluster.brokers[b]["stopped"] = None
    cluster.brokers[b].pop("leaves_isr_ms", None)
    ev.broker_started(cluster, broker=b)
    cluster.zk_set(f"/brokers/ids/{b}", {"host": f"broker-{b}", "port": 9091 + b},
                 ephemeral_owner=b)
    if cluster.controller is None:
        elect_controller(cluster, f"broker {b} started and found no controller")
    reconcile(cluster)
    now = cluster.clock.now_ms
    for part in partitions(cluster):
        if b not in part.replicas or part.leader == b:
            continue
        part.caught_up[b] = now
        part.last_fetch.pop(b, None)
        if part.leader is not None:
            truncate_follower(cluster, part, b, "rejoining: truncate to the leader")
            schedule_isr_check(cluster, part)
            schedule_follower_fetches(cluster, part, rejoining=b)
    schedule_preferred_check(cluster)


def broker_configure(cluster, c: dict) -> None:
    v.check_fields(c, frozenset({"type", "broker", "replica_fetch_delay_ms"}))
    b = broker_arg(cluster, c)
    if "replica_fetch_delay_ms" in c and c["replica_fetch_delay_ms"] is None:
        delay = None  # back to the cluster's replica.fetch.delay.ms
    else:
        delay = v.integer(c, "replica_fetch_delay_ms", minimum=0, maximum=3_600_000)
    cluster.brokers[b]["replica_fetch_delay_ms"] = delay
    ev.broker_configured(cluster, broker=b, replica_fetch_delay_ms=delay)


def alive(cluster, b: int) -> bool:
    """Alive as the controller sees it: registered in ZooKeeper (a crashed broker stays
    'alive' until its session expires)."""
    return cluster.brokers[b]["registered"]


def controller_working(cluster) -> bool:
    return cluster.controller is not None and cluster.brokers[cluster.controller]["up"]


def partitions(cluster):
    for name in sorted(cluster.topics):
        yield from cluster.topics[name].partitions


# -- the controller -----------------------------------------------------------------------


def elect_controller(cluster, reason: str) -> None:
    candidates = [b for b in sorted(cluster.brokers) if cluster.brokers[b]["up"]
                  and cluster.brokers[b]["registered"]]
    if not candidates:
        ev.controller_none(cluster, reason=f"{reason}; no live broker is left")
        return
    # Every live broker's watch fires and each tries to create /controller; which one's
    # create lands first is a race, drawn from the seed.
    winner = cluster.controller_rng.choice(candidates)
    cluster.controller = winner
    cluster.controller_epoch += 1
    cluster.zk_set("/controller", {"brokerid": winner}, ephemeral_owner=winner)
    cluster.zk_set("/controller_epoch", cluster.controller_epoch)
    ev.controller_elected(cluster, broker=winner, epoch=cluster.controller_epoch,
                          reason=reason)


def reconcile(cluster) -> None:
    """The controller's pass over every partition after brokers came or went."""
    if not controller_working(cluster):
        return
    for part in partitions(cluster):
        if part.leader is None or not alive(cluster, part.leader):
            elect_or_offline(cluster, part)
        elif not part.online and cluster.brokers[part.leader]["up"]:
            # Its leader restarted while no controller could confirm it; now one does.
            part.online = True
            schedule_follower_fetches(cluster, part)
            for member in part.watchers:
                member.wake()
        dead = [r for r in part.isr if not alive(cluster, r)]
        if dead:
            isr = [r for r in part.isr if alive(cluster, r)] or part.isr[-1:]
            if isr != part.isr:
                set_isr(cluster, part, isr, f"broker(s) {', '.join(map(str, dead))} went away")


def elect_or_offline(cluster, part) -> None:
    clean = next((r for r in part.replicas if r in part.isr and alive(cluster, r)), None)
    if clean is not None:
        elect(cluster, part, clean, unclean=False, reason=f"leader {part.leader} went away"
                    if part.leader is not None else "a replica in the ISR came back")
        return
    if part.topic.config["unclean.leader.election.enable"]:
        pick = next((r for r in part.replicas if alive(cluster, r)), None)
        if pick is not None:
            elect(cluster, part, pick, unclean=True, reason="no replica in the ISR is alive; "
                        "unclean.leader.election.enable lets an out-of-sync one lead")
            return
    if part.leader is None:
        return
    previous = part.leader
    cluster.requeue_pending(part, "NOT_LEADER_OR_FOLLOWER")
    part.leader = None
    part.online = False
    part.leader_epoch += 1
    # ZooKeeper-mode Kafka never empties the ISR: its last member stays, so only that
    # replica can bring the partition back cleanly.
    part.isr = [r for r in part.isr if alive(cluster, r)] or part.isr[-1:]
    write_partition_state(cluster, part)
    ev.partition_offline(cluster, topic=part.topic.name, partition=part.index,
                         previous_leader=previous, epoch=part.leader_epoch, isr=list(part.isr),
                         leader=None, reason="no live replica in the ISR; unclean leader election "
                                             "is off, so the partition waits for one to return")


def elect(cluster, part, new: int, unclean: bool, reason: str) -> None:
    previous = part.leader
    old_log = part.leader_log
    new_log = part.logs[new]
    # Records the old leader has and the new one never will: cut where the logs diverge.
    cut = old_log.divergence(new_log) if old_log is not new_log else old_log.end_offset
    announce_vanishing(cluster, part, old_log, cut, reason)
    cluster.requeue_pending(part, "NOT_LEADER_OR_FOLLOWER")
    part.leader = new
    part.leader_log = new_log
    part.leader_epoch += 1
    new_log.start_epoch(part.leader_epoch)
    part.online = cluster.brokers[new]["up"]
    before_isr = list(part.isr)
    if unclean:
        part.isr = [new]
    else:
        part.isr = [r for r in part.isr if alive(cluster, r)]
        if new not in part.isr:
            part.isr.append(new)
    part.caught_up = {}
    part.last_fetch = {}
    write_partition_state(cluster, part)
    ev.partition_leader_elected(cluster, topic=part.topic.name, partition=part.index,
                                leader=new, previous_leader=previous, epoch=part.leader_epoch,
                                isr=list(part.isr), unclean=unclean, reason=reason,
                                log_end_offset=new_log.end_offset)
    if part.isr != before_isr:
        ev.partition_isr_changed(cluster, topic=part.topic.name, partition=part.index,
                                 isr=list(part.isr), previous=before_isr, reason="leader elected")
    for r in part.replicas:
        if r != new and cluster.brokers[r]["up"]:
            truncate_follower(cluster, part, r, f"following the new leader {new}")
    set_high_watermark(cluster, part, part.isr_high_watermark())
    if new_log.end_offset < old_log.end_offset:
        for gid in sorted(cluster.groups):
            cluster.groups[gid].log_truncated(part)
    schedule_follower_fetches(cluster, part)
    for member in part.watchers:
        member.wake()
    schedule_preferred_check(cluster)


def announce_vanishing(cluster, part, old_log, cut: int, reason: str) -> None:
    start = max(cut, old_log.start_offset)
    if start >= old_log.end_offset:
        return
    hw = part.high_watermark
    retries = {entry[0]: entry[3] for entry in part.awaiting_ack}
    name, index = part.topic.name, part.index
    for offset in range(start, old_log.end_offset):
        code = old_log.acks[offset - old_log.base]
        rec = old_log.record(offset)
        acked = code == 1 or (code == 2 and offset < hw)
        if acked:
            ev.record_lost(cluster, topic=name, partition=index, offset=offset,
                           key=rec["key"], value=rec["value"], acks="1" if code == 1 else "all",
                           reason=f"acknowledged, but the new leader never had it ({reason})")
        else:
            waiting = offset in retries
            will_retry = retries.get(offset, 0) > 0
            ev.record_truncated(cluster, topic=name, partition=index, offset=offset,
                                key=rec["key"], value=rec["value"],
                                acks={0: "0", 1: "1", 2: "all"}[code], will_retry=will_retry,
                                reason="never acknowledged; the producer retries it" if will_retry
                                else "never acknowledged; the sender is told it failed" if waiting
                                else "never acknowledged (acks=0)")


def truncate_follower(cluster, part, b: int, reason: str) -> None:
    log = part.logs[b]
    leader_log = part.leader_log
    if log is leader_log:
        return
    cut = log.divergence(leader_log)
    end = log.end_offset
    gone = log.truncate_to(cut)
    if gone:
        ev.replica_truncated(cluster, topic=part.topic.name, partition=part.index,
                             broker=b, offset=cut, count=gone, previous_log_end_offset=end,
                             reason=reason)


def write_partition_state(cluster, part) -> None:
    cluster.zk_set(f"/brokers/topics/{part.topic.name}/partitions/{part.index}/state",
                 {"leader": part.leader if part.leader is not None else -1,
                  "leader_epoch": part.leader_epoch, "isr": list(part.isr),
                  "controller_epoch": cluster.controller_epoch})


def set_isr(cluster, part, isr: list[int], reason: str) -> None:
    isr = [r for r in part.replicas if r in isr]
    if isr == part.isr:
        return
    previous = part.isr
    part.isr = isr
    write_partition_state(cluster, part)
    ev.partition_isr_changed(cluster, topic=part.topic.name, partition=part.index,
                             isr=list(isr), previous=list(previous), reason=reason)
    if part.online:
        update_high_watermark(cluster, part)


# -- preferred leaders --------------------------------------------------------------------


def preferred_moves(cluster) -> list:
    """The partitions Kafka's auto.leader.rebalance would hand back now: those of a broker
    whose share of partitions led by someone else exceeds
    leader.imbalance.per.broker.percentage, where that broker is alive and in the ISR."""
    limit = cluster.config["leader.imbalance.per.broker.percentage"] / 100
    by_broker: dict[int, list] = {}
    for part in partitions(cluster):
        by_broker.setdefault(part.replicas[0], []).append(part)
    moves = []
    for b in sorted(by_broker):
        parts = by_broker[b]
        away = [p for p in parts if p.leader != b]
        if not away or len(away) / len(parts) <= limit:
            continue
        if not (alive(cluster, b) and cluster.brokers[b]["up"]):
            continue
        moves += [(p, b) for p in away if b in p.isr]
    return moves


def schedule_preferred_check(cluster) -> None:
    """Only while the check would move something, so idle time stays free."""
    if cluster.preferred_timer is not None or not preferred_moves(cluster):
        return
    interval = cluster.config["leader.imbalance.check.interval.seconds"] * 1000
    cluster.preferred_timer = cluster.clock.at(next_tick(cluster.clock.now_ms, interval),
                                          partial(preferred_check, cluster))


def preferred_check(cluster, _) -> None:
    cluster.preferred_timer = None
    if controller_working(cluster):
        for part, b in preferred_moves(cluster):
            if part.leader != b and b in part.isr:
                elect(cluster, part, b, unclean=False, reason="preferred leader election "
                            "(auto.leader.rebalance.enable)")
    schedule_preferred_check(cluster)


def elect_preferred(cluster, c: dict) -> None:
    """kafka-leader-election.sh --election-type preferred, for one topic or all."""
    v.check_fields(c, frozenset({"type", "topic", "partition"}))
    parts = list(partitions(cluster))
    if "topic" in c:
        parts = cluster.existing_topic(c, "topic").partitions
        if "partition" in c:
            index = v.integer(c, "partition", minimum=0, maximum=len(parts) - 1)
            parts = [parts[index]]
    elif "partition" in c:
        raise CommandError("partition", "needs a topic")
    if not controller_working(cluster):
        raise CommandError("type", "there is no working controller to run the election")
    moved = 0
    for part in parts:
        b = part.replicas[0]
        if part.leader != b and b in part.isr and alive(cluster, b) and cluster.brokers[b]["up"]:
            elect(cluster, part, b, unclean=False, reason="preferred leader election (asked "
                        "for)")
            moved += 1
    ev.leader_preferred_election(cluster, partitions=len(parts), moved=moved)


# -- followers ----------------------------------------------------------------------------


def schedule_follower_fetches(cluster, part, rejoining: int | None = None) -> None:
    """A fetch at the next tick for each running follower that is behind; and for
    `rejoining` (a broker just started) even with nothing to copy, because that first
    fetch is what lets the leader put it back in the ISR."""
    if not part.online:
        return
    now = cluster.clock.now_ms
    due = next_tick(now, cluster.config["replica.fetch.interval.ms"])
    end = part.leader_log.end_offset
    for broker in part.replicas:
        if broker == part.leader or broker in part.fetch_timers:
            continue
        if not cluster.brokers[broker]["up"]:
            continue
        if part.logs[broker].end_offset >= end:
            if broker == rejoining:
                part.fetch_timers[broker] = cluster.clock.at(due, partial(follower_fetch, cluster),
                                                          (part, broker))
            continue
        if part.caught_up.get(broker) is None:
            # It had everything until this instant: from now on it is behind.
            part.caught_up[broker] = now
            if broker in part.isr:
                schedule_isr_check(cluster, part)
        part.fetch_timers[broker] = cluster.clock.at(due, partial(follower_fetch, cluster),
                                                     (part, broker))


def follower_fetch(cluster, arg) -> None:
    part, broker = arg
    del part.fetch_timers[broker]
    if not part.online or broker == part.leader:
        return
    leader_log = part.leader_log
    log = part.logs[broker]
    if log.end_offset < leader_log.start_offset:
        # Kafka's OFFSET_OUT_OF_RANGE for a follower: what it lacks is gone from the leader
        # too, so it starts its log over at the leader's log start.
        log.restart_at(leader_log.start_offset)
    now = cluster.clock.now_ms
    fetch_offset, leader_end = log.end_offset, leader_log.end_offset
    last = part.last_fetch.get(broker)
    if fetch_offset >= leader_end:
        part.caught_up[broker] = None
    elif last is not None and fetch_offset >= last[1]:
        caught = part.caught_up.get(broker)
        if caught is not None and caught < last[0]:
            part.caught_up[broker] = last[0]
            if broker in part.isr:
                schedule_isr_check(cluster, part)
    part.last_fetch[broker] = (now, leader_end)
    delay = cluster.brokers[broker]["replica_fetch_delay_ms"]
    if delay is None:
        delay = cluster.config["replica.fetch.delay.ms"]
    arg = (part, broker, leader_end, part.leader_epoch)
    if delay:
        part.fetch_timers[broker] = cluster.clock.at(now + delay,
                                                     partial(fetch_response, cluster), arg)
    else:
        fetch_response(cluster, arg)


def fetch_response(cluster, arg) -> None:
    part, broker, end, epoch = arg
    part.fetch_timers.pop(broker, None)
    if epoch != part.leader_epoch or not part.online or not cluster.brokers[broker]["up"]:
        schedule_follower_fetches(cluster, part)
        return  # a stale answer from a leader that has changed since
    leader_log = part.leader_log
    log = part.logs[broker]
    start = log.end_offset
    end = min(end, leader_log.end_offset)
    if start < leader_log.start_offset:
        log.restart_at(leader_log.start_offset)
        start = log.end_offset
    if end > start:
        log.copy_from(leader_log, start, end)
        cluster.out.record_replicated(cluster.next_seq(), cluster.clock.now_ms,
                                      part.topic.name, part.index, broker, start, end - start,
                                      end)
    if leader_log.start_offset > log.start_offset:
        log.delete_before(leader_log.start_offset)
    if log.end_offset >= leader_log.end_offset:
        part.caught_up[broker] = None
    if (broker not in part.isr and log.end_offset >= part.high_watermark
            and log.end_offset >= part.epoch_start_offset()):
        set_isr(cluster, part, part.isr + [broker],
                      f"broker {broker} caught up with the high watermark")
        schedule_preferred_check(cluster)
    update_high_watermark(cluster, part)
    schedule_follower_fetches(cluster, part)


# -- the ISR check ------------------------------------------------------------------------


def schedule_isr_check(cluster, part) -> None:
    times = [t for b, t in part.caught_up.items() if t is not None and b in part.isr
             and b != part.leader]
    if not times:
        return
    due = isr_check_due(cluster, min(times))
    timer = part.isr_timer
    if timer is not None and timer.active:
        if timer.due_ms <= due:
            return
        timer.cancel()
    part.isr_timer = cluster.clock.at(due, partial(isr_check, cluster), part)


def isr_check_due(cluster, caught_up_ms: int) -> int:
    """The leader's check runs every lag/2 and drops followers stale for more than lag:
    the first check that finds one not caught up since `caught_up_ms` stale."""
    lag = cluster.config["replica.lag.time.max.ms"]
    return next_tick(caught_up_ms + lag, max(1, lag // 2))


def isr_leave_ms(cluster, b: int, caught_up_ms: int) -> int:
    """When broker `b`'s follower replicas, not caught up since `caught_up_ms`, leave the
    ISRs if it does not come back: the leaders' stale check, or, for a crashed broker,
    the controller dropping it when its ZooKeeper session expires, whichever is first."""
    due = isr_check_due(cluster, caught_up_ms)
    expires = cluster.brokers[b].get("session_expires_ms")
    return due if expires is None else min(due, expires)


def isr_check(cluster, part) -> None:
    part.isr_timer = None
    if cluster.topics.get(part.topic.name) is not part.topic:
        return
    if part.leader is None or not cluster.brokers[part.leader]["up"]:
        return  # only a running leader shrinks its ISR
    lag = cluster.config["replica.lag.time.max.ms"]
    now = cluster.clock.now_ms
    stale = [b for b in part.isr if b != part.leader
             and part.caught_up.get(b) is not None and now - part.caught_up[b] > lag]
    if stale:
        set_isr(cluster, part, [b for b in part.isr if b not in stale],
                      f"broker(s) {', '.join(map(str, stale))} fell behind for more than "
                      f"replica.lag.time.max.ms ({lag:,} ms)")
    schedule_isr_check(cluster, part)


# -- the high watermark -------------------------------------------------------------------


def set_high_watermark(cluster, part, hw: int) -> None:
    if hw == part.high_watermark:
        return
    part.high_watermark = hw
    cluster.out.partition_high_watermark(cluster.next_seq(), cluster.clock.now_ms,
                                         part.topic.name, part.index, hw)


def update_high_watermark(cluster, part) -> None:
    hw = part.isr_high_watermark()
    if hw <= part.high_watermark:
        return
    set_high_watermark(cluster, part, hw)
    waiting = part.awaiting_ack
    done = 0
    too_few = len(part.isr) < part.topic.config["min.insync.replicas"]
    failed = []
    name, index, now = part.topic.name, part.index, cluster.clock.now_ms
    acked = cluster.out.record_acked
    waiters = cluster.ack_waiters
    seq = cluster.seq
    while done < len(waiting) and waiting[done][0] < hw:
        entry = waiting[done]
        if too_few:
            failed.append(entry)
        else:
            seq += 1
            acked(seq, now, name, index, entry[0], entry[1], "all")
            if waiters:
                waiter = waiters.pop((name, index, entry[0]), None)
                if waiter is not None:
                    waiter.acked((name, index, entry[0]))
        done += 1
    cluster.seq = seq
    if done:
        del waiting[:done]
    if failed:
        # Written and now committed, but the ISR shrank below min.insync.replicas before
        # the acknowledgement: Kafka answers NOT_ENOUGH_REPLICAS_AFTER_APPEND and the
        # producer sends again. Only idempotence keeps that from writing a duplicate.
        cluster.retry_entries(part, failed, "NOT_ENOUGH_REPLICAS_AFTER_APPEND")
    for member in part.watchers:
        member.wake()


# The broker commands: command type -> handler(cluster, command), bound by the cluster's table.
HANDLERS = {
    "broker.stop": broker_stop,
    "broker.start": broker_start,
    "broker.configure": broker_configure,
    "leader.elect_preferred": elect_preferred,
}
