"""Shared by the rooms and consumer tests: a hand-driven wall clock, a fresh registry, specs."""

import json

import pytest
from channels.layers import channel_layers

from playground.rooms.registry import Rooms, set_rooms


class FakeClock:
    """Wall time the test moves by hand, so pacing tests never sleep."""

    def __init__(self, start_s: float = 1_000.0):
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def forward(self, seconds: float) -> None:
        self.now_s += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def rooms(clock):
    """This process's rooms for one test: hand-clocked, ticked by the test (autorun off), on a
    fresh channel layer (layers are cached per process and bound to an event loop)."""
    channel_layers.backends.clear()
    registry = Rooms(clock=clock, autorun=False, max_rooms=10, idle_s=300)
    set_rooms(registry)
    yield registry
    set_rooms(None)
    channel_layers.backends.clear()


def busy_spec(rate_per_s: int = 1_000, partitions: int = 3) -> dict:
    """One broker, a topic, a steady producer: a predictable stream of events (every record
    makes record.produced and record.acked at its instant)."""
    return {"name": "busy", "title": "Busy", "brokers": 1,
            "topics": [{"name": "orders", "partitions": partitions, "replication_factor": 1}],
            "producers": [{"id": "load", "topic": "orders", "rate_per_s": rate_per_s}],
            "timeline": []}


def quiet_spec() -> dict:
    return {"name": "quiet", "title": "Quiet", "brokers": 1,
            "topics": [{"name": "orders", "partitions": 2, "replication_factor": 1}],
            "timeline": []}


def decode(text: str) -> dict:
    return json.loads(text)


async def drive(registry, room, message, actor=None) -> dict:
    """Send `message` to `room` through the registry as `actor` (default: anyone) and decode
    the reply (an ack or an error)."""
    return decode((await registry.handle(room.id, message, actor or {}))["text"])
