"""Room.apply and Room.add_listener: what the Kafka wire listener builds on."""

import pytest

from broker_core import CommandError
from tests.playground.rooms_support import busy_spec, clock, quiet_spec, rooms  # noqa: F401


async def test_apply_returns_its_events_and_listeners_see_every_batch_in_order(rooms, clock):  # noqa: F811
    room = rooms.create(busy_spec(rate_per_s=100))
    seen: list[dict] = []
    room.add_listener(seen.extend)
    room.pacer.play(clock())
    clock.forward(0.5)
    room.advance(clock())
    ticked = list(seen)
    assert ticked and all(e["seq"] > 0 for e in ticked)
    clock.forward(0.1)
    events = room.apply({"type": "produce", "topic": "orders", "key": "k", "value": "v"})
    assert any(e["type"] == "record.produced" for e in events)
    # The catch-up to "now" comes first, then the command's own events, all exactly once.
    assert seen[-len(events):] == events
    seqs = [e["seq"] for e in seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert room.cluster.command_log[-1]["command"]["value"] == "v"
    room.remove_listener(seen.extend)
    before = len(seen)
    clock.forward(0.5)
    room.advance(clock())
    assert len(seen) == before


async def test_a_refused_command_raises_and_a_failing_listener_harms_nobody(rooms, clock):  # noqa: F811
    room = rooms.create(quiet_spec())

    def broken(events):
        raise RuntimeError("listener bug")

    got: list[dict] = []
    room.add_listener(broken)
    room.add_listener(got.extend)
    with pytest.raises(CommandError):
        room.apply({"type": "produce", "topic": "nope", "value": "v"})
    assert room.cluster.command_log == []
    events = room.apply({"type": "produce", "topic": "orders", "value": "v"})
    assert events and got[-len(events):] == events
    assert room.pending[-len(events):] == events  # viewers still get their frame
