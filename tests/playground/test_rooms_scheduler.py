"""Rooms share the process fairly and never do unbounded work in one go (issue 11).

A jump of a busy day is many small slices over many ticks, its events streamed out as frames;
one scheduler gives every watched room a turn per tick within a share of the process's time.
"""

import asyncio
import copy
import json
import time
import tracemalloc

import pytest
from channels.layers import InMemoryChannelLayer

from broker_core.scenarios import load_builtin
from playground.rooms.registry import Rooms
from tests.playground.rooms_support import busy_spec, clock, quiet_spec  # noqa: F401

pytestmark = pytest.mark.asyncio

DAY_MS = 86_400_000


def endless_orders() -> dict:
    """amazon-orders (five groups, RF 3) with its producer sending 2 orders/s for ever."""
    spec = copy.deepcopy(load_builtin("amazon-orders"))
    for producer in spec["producers"]:
        producer.pop("count", None)
    return spec


def control(action: str, **fields) -> dict:
    return {"type": "control", "request_id": action, "action": action, **fields}


async def test_a_day_long_jump_runs_in_bounded_ticks_with_flat_memory(clock):  # noqa: F811
    registry = Rooms(clock=clock, autorun=False, layer=InMemoryChannelLayer())
    room = registry.create(endless_orders())
    await registry.attach(room.id, "teacher")
    await registry.handle(room.id, control("play"), {})
    started = time.perf_counter()
    reply = json.loads((await registry.handle(room.id, control("jump", ms=DAY_MS), {}))["text"])
    # The click is answered at once: before, this one call ran the whole day (18 s).
    assert reply["type"] == "ack" and time.perf_counter() - started < 1.0
    goal = room.goal_ms
    assert goal is not None and room.cluster.now_ms < goal
    tracemalloc.start()
    try:
        worst_s = 0.0
        for _ in range(40):
            t0 = time.perf_counter()
            await room.tick(cpu_budget_s=0.02)
            worst_s = max(worst_s, time.perf_counter() - t0)
            assert room.pending == []  # every tick's events went out as a frame
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    state = room.clock_state()
    # Progress the page can draw: where the jump started, where it is, where it goes.
    assert state["goal_ms"] == goal and state["goal_from_ms"] is not None
    assert state["goal_from_ms"] < state["now_ms"] < goal
    assert worst_s < 0.5, f"one tick took {worst_s:.3f} s"
    assert peak < 40 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB while jumping"
    # Cancel (the progress bar's button is a pause): the room stays where the jump got to.
    reached = room.cluster.now_ms
    await registry.handle(room.id, control("pause"), {})
    assert room.goal_ms is None and room.clock_state()["goal_from_ms"] is None
    clock.forward(5)
    await room.tick()
    assert reached <= room.cluster.now_ms < reached + 5_000  # catch-up of the paused instant


async def test_a_jump_cut_into_slices_gives_the_same_run_as_one_call(clock):  # noqa: F811
    registry = Rooms(clock=clock, autorun=False, layer=InMemoryChannelLayer())
    room = registry.create(endless_orders())
    await registry.handle(room.id, control("jump", ms=120_000), {})
    while room.goal_ms is not None:
        await room.tick(cpu_budget_s=0.001)
    reference = registry.create(endless_orders())
    reference.cluster.advance_to(room.cluster.now_ms)
    assert reference.cluster.snapshot() == room.cluster.snapshot()


class FakeRoom:
    """Stands for a room in the scheduler: records the share it is given and uses all of it."""

    def __init__(self, room_id: str, weight: int):
        self.id, self.weight, self.viewers, self.pending = room_id, weight, {"v"}, []
        self.task = None
        self.shares: list[float] = []

    async def tick(self, share_s: float) -> bool:
        self.shares.append(share_s)
        end = time.perf_counter() + share_s
        while time.perf_counter() < end:
            pass
        return False


async def test_the_scheduler_splits_a_tick_by_weight_and_rotates():
    registry = Rooms(autorun=False, layer=InMemoryChannelLayer(), tick_s=0.05, cpu_share=0.5)
    a, b, jump = FakeRoom("a", 1), FakeRoom("b", 1), FakeRoom("j", 8)
    registry.awake = {r.id: r for r in (a, b, jump)}
    await registry._tick_rooms([a, b, jump])
    budget = 0.025
    assert a.shares[0] == pytest.approx(budget / 10, rel=0.01)
    # A jump the class waits for gets eight shares to a playing room's one.
    assert jump.shares[0] > 5 * b.shares[0]
    assert a.shares[0] + b.shares[0] + jump.shares[0] == pytest.approx(budget, rel=0.2)
    await registry._tick_rooms([a, b, jump])
    assert len(b.shares) == 2 and b.shares[1] == pytest.approx(budget / 10, rel=0.05), (
        "the second tick starts with the second room")


async def test_fast_rooms_fall_behind_instead_of_slowing_a_quiet_one():
    """Ten rooms at 100,000x with a fast producer, one at 1x: the loop stays responsive and
    the quiet room keeps time; before, each busy room took its own 25 ms every tick."""
    registry = Rooms(layer=InMemoryChannelLayer(), tick_s=0.05, max_rooms=20)
    busy = [registry.create(busy_spec(rate_per_s=1_000)) for _ in range(10)]
    calm = registry.create(quiet_spec())
    for room in [*busy, calm]:
        await registry.attach(room.id, f"viewer-{room.id}")
        await registry.handle(room.id, control("play"), {})
    for room in busy:
        await registry.handle(room.id, control("speed", speed=100_000), {})
    loop = asyncio.get_running_loop()
    worst = 0.0
    started_calm = calm.cluster.now_ms
    t_end = loop.time() + 1.5
    try:
        while loop.time() < t_end:
            t0 = loop.time()
            await asyncio.sleep(0.01)
            worst = max(worst, loop.time() - t0 - 0.01)
        elapsed_ms = (calm.pacer.virtual_at(calm.clock()) - started_calm)
        assert calm.clock_state()["behind"] is False
        assert all(room.clock_state()["behind"] for room in busy)
        assert elapsed_ms > 1_000
        assert worst < 0.15, f"the loop stalled {worst * 1000:.0f} ms"
    finally:
        for room in [*busy, calm]:
            await registry.detach(room.id, f"viewer-{room.id}")
        await asyncio.sleep(0.1)


async def test_waking_a_room_hours_later_holds_no_stream_of_events(clock):  # noqa: F811
    """A wake (or seek, or fork) rebuilds state by replay; before, each stretch between two
    logged commands was one call holding every event of it."""
    from playground.rooms.room import Room

    registry = Rooms(clock=clock, autorun=False, layer=InMemoryChannelLayer(),
                     records_max=5_000)
    room = registry.create(busy_spec(rate_per_s=100, partitions=3))
    recording = {**room.recording(), "now_ms": 30 * 60_000}  # asleep half an hour in
    tracemalloc.start()
    try:
        woken = Room.replay(recording, **registry._room_kwargs())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert woken.cluster.now_ms == 30 * 60_000 and woken.cluster.seq > 180_000
    assert peak < 30 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB rebuilding the room"
