"""Pacing: virtual time against a hand-driven wall clock, exact to the millisecond."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.rooms.pacing import Pacer
from tests.playground.rooms_support import busy_spec, clock, quiet_spec, rooms  # noqa: F401


def control(action, **fields):
    return {"type": "control", "request_id": "k", "action": action, **fields}


async def handle(registry, room, message):
    return json.loads((await registry.handle(room.id, message, {}))["text"])


def test_pacer_line_is_continuous_across_speed_changes():
    p = Pacer(10.0, 0)
    assert p.virtual_at(20.0) == 0  # paused: time stands still
    p.play(20.0)
    assert p.virtual_at(21.5) == 1_500
    p.set_speed(21.5, 100.0)
    assert p.virtual_at(21.5) == 1_500  # no jump at the change
    assert p.virtual_at(21.51) == 2_500
    p.set_speed(21.51, 0.1)
    assert p.virtual_at(23.51) == 2_700
    p.pause(23.51)
    assert p.virtual_at(99.0) == 2_700
    with pytest.raises(ValueError):
        p.set_speed(1.0, 0.05)


async def test_play_pause_speed_step_and_jump_are_exact_in_virtual_time(rooms, clock):  # noqa: F811
    room = rooms.create(quiet_spec())
    now = lambda: room.cluster.now_ms  # noqa: E731
    assert now() == 0
    clock.forward(5)
    await room.tick()
    assert now() == 0  # a new room is paused

    assert (await handle(rooms, room, control("play")))["type"] == "ack"
    clock.forward(1.5)
    await room.tick()
    assert now() == 1_500

    await handle(rooms, room, control("speed", speed=10))
    assert now() == 1_500  # a speed change never makes time jump
    clock.forward(0.25)
    await room.tick()
    assert now() == 4_000

    await handle(rooms, room, control("speed", speed=100_000))
    clock.forward(0.001)
    await room.tick()
    assert now() == 104_000

    await handle(rooms, room, control("speed", speed=0.1))
    clock.forward(1)
    await room.tick()
    assert now() == 104_100

    await handle(rooms, room, control("pause"))
    clock.forward(60)
    await room.tick()
    assert now() == 104_100

    ack = await handle(rooms, room, control("step", ms=250))
    assert ack["type"] == "ack" and now() == 104_350
    clock.forward(3)
    await room.tick()
    assert now() == 104_350  # a step leaves the room paused

    await handle(rooms, room, control("jump", ms=3_600_000))
    assert now() == 3_704_350  # paused: exactly one hour on
    await handle(rooms, room, control("play"))
    await handle(rooms, room, control("jump", ms=86_400_000))
    assert now() == 90_104_350
    clock.forward(2)  # still playing at 0.1x after the jump
    await room.tick()
    assert now() == 90_104_550


async def test_step_without_ms_runs_to_the_next_instant_anything_is_due(rooms, clock):  # noqa: F811
    room = rooms.create(busy_spec(rate_per_s=4))  # a record every 250 ms
    assert room.cluster.next_due_ms() == 250
    await handle(rooms, room, control("step"))
    assert room.cluster.now_ms == 250
    await handle(rooms, room, control("step"))
    assert room.cluster.now_ms == 500
    quiet = rooms.create(quiet_spec())
    assert quiet.cluster.next_due_ms() is None
    assert (await handle(rooms, quiet, control("step")))["type"] == "ack"
    assert quiet.cluster.now_ms == 0  # nothing due: nothing to step to


async def test_a_command_lands_at_the_virtual_time_the_viewers_were_shown(rooms, clock):  # noqa: F811
    room = rooms.create(quiet_spec())
    await handle(rooms, room, control("play"))
    clock.forward(2.5)  # no tick yet: the command itself catches the room up
    reply = await handle(rooms, room, {"type": "command", "request_id": "c1", "command": {
        "type": "produce", "topic": "orders", "key": "k", "value": "v"}})
    assert reply == {"type": "ack", "request_id": "c1", "seq": room.cluster.seq}
    assert room.cluster.command_log[-1]["at_ms"] == 2_500


async def test_a_room_that_cannot_keep_up_falls_behind_instead_of_bursting(rooms, clock):  # noqa: F811
    room = rooms.create(busy_spec(rate_per_s=10_000))
    await handle(rooms, room, control("play"))
    await handle(rooms, room, control("speed", speed=100_000))
    clock.forward(10)  # asks for 1,000,000 s of virtual time: far beyond a tick's budget
    room.advance(clock(), cpu_budget_s=0.01)
    reached = room.cluster.now_ms
    assert 0 < reached < 1_000_000_000
    assert room.clock_state()["behind"] is True
    # Re-based where it got to: the next tick asks for one tick's worth more, not the backlog.
    assert room.pacer.virtual_at(clock()) == reached


async def test_a_long_jump_on_a_busy_room_spans_ticks_and_lands_exactly(rooms, clock):  # noqa: F811
    room = rooms.create(busy_spec(rate_per_s=1_000))
    room.advance(clock())
    start = room.cluster.now_ms
    # A tiny CPU budget so the jump cannot finish in the call that asks for it.
    real_advance = room.advance
    room.advance = lambda wall_s, cpu_budget_s=0.002: real_advance(wall_s, cpu_budget_s)
    ack = await handle(rooms, room, control("jump", ms=60_000))
    assert ack["type"] == "ack"
    assert room.goal_ms == start + 60_000 and room.cluster.now_ms < room.goal_ms
    ticks = 0
    while room.goal_ms is not None:
        assert room.clock_state()["goal_ms"] == start + 60_000
        await room.tick()  # the hand clock does not move: only the goal drives time here
        ticks += 1
        assert ticks < 10_000
    assert ticks > 1 and room.cluster.now_ms == start + 60_000
    assert room.pacer.virtual_at(clock()) == start + 60_000  # paused on arrival, no overshoot


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 5, allow_nan=False),
                          st.sampled_from(["play", "pause", "speed"]),
                          st.floats(0.1, 100_000)), max_size=30))
def test_the_pacer_never_goes_back_and_never_jumps_at_a_change(ops):
    pacer = Pacer(0.0, 0)
    wall = 0.0
    last = 0
    for dt, op, speed in ops:
        wall += dt
        before = pacer.virtual_at(wall)
        assert before >= last
        if op == "play":
            pacer.play(wall)
        elif op == "pause":
            pacer.pause(wall)
        else:
            pacer.set_speed(wall, speed)
        assert pacer.virtual_at(wall) == before
        last = before
