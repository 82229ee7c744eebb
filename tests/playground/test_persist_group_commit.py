"""Concurrent persists of one room share commits, and none answers before the commit that
holds what it applied (the promise behind every acknowledgement: acks=1/all on the wire, a
viewer's command on the page)."""

import asyncio

import pytest

from broker_core.scenarios import load_builtin
from playground.rooms.registry import Rooms
from playground.rooms.store import MemoryStore
from tests.playground.rooms_support import FakeClock

WAIT_S = 5  # bound on every wait: a broken grouping fails the test instead of hanging it


class StepStore(MemoryStore):
    """Each `save_many` waits until the test lets that one save through (`release`), and may
    be told to fail; the test sees what each save held (`saves`)."""

    def __init__(self):
        super().__init__()
        self.saves: list[list[int]] = []  # command-log indexes, one list per save
        self.started = asyncio.Event()
        self._gates: list[asyncio.Event] = []
        self.fail_next = False

    async def save_many(self, batch):
        self.saves.append([i for _, entries in batch for i, _ in entries])
        gate = asyncio.Event()
        self._gates.append(gate)
        self.started.set()
        await gate.wait()
        if self.fail_next:
            self.fail_next = False
            return [False] * len(batch)
        return await super().save_many(batch)

    async def next_started(self) -> None:
        await asyncio.wait_for(self.started.wait(), WAIT_S)
        self.started.clear()

    def release(self) -> None:
        """Let the oldest save that is still held go."""
        next(g for g in self._gates if not g.is_set()).set()


def produce(room, value: str) -> None:
    room.apply({"type": "produce", "topic": "signup", "value": value})


async def settle() -> None:
    """Let every task that can run do so (no timers involved: a few loop turns)."""
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.fixture
async def room_and_store():
    store = StepStore()
    rooms = Rooms(clock=FakeClock(), autorun=False, store=store)
    room = rooms.create(load_builtin("signup"))
    first = asyncio.ensure_future(rooms.persist(room.id))  # the room's header, no entries
    await store.next_started()
    store.release()
    await asyncio.wait_for(first, WAIT_S)
    store.saves.clear()
    return rooms, room, store


async def test_persists_that_wait_together_are_one_commit(room_and_store):
    """A producer with requests in flight on every broker asks for a persist per request: the
    ones that arrive while a commit is written share the next one, not one commit each."""
    rooms, room, store = room_and_store
    produce(room, "a")
    first = asyncio.ensure_future(rooms.persist(room.id))
    await store.next_started()
    waiting = []
    for value in "bcde":
        produce(room, value)
        waiting.append(asyncio.ensure_future(rooms.persist(room.id)))
    await settle()
    store.release()
    await asyncio.wait_for(first, WAIT_S)
    await store.next_started()
    store.release()
    await asyncio.wait_for(asyncio.gather(*waiting), WAIT_S)
    assert store.saves == [[0], [1, 2, 3, 4]]
    assert len(store.logs[room.id]) == 5 and room.persisted == 5


async def test_a_persist_returns_only_after_the_commit_that_holds_its_entries(room_and_store):
    """A persist that began while a commit was being written is not answered by that commit:
    its entries were applied after that save was taken."""
    rooms, room, store = room_and_store
    produce(room, "a")
    first = asyncio.ensure_future(rooms.persist(room.id))
    await store.next_started()
    produce(room, "b")
    second = asyncio.ensure_future(rooms.persist(room.id))
    await settle()
    store.release()
    await asyncio.wait_for(first, WAIT_S)
    await store.next_started()  # the second save, with "b", is being written ...
    await settle()
    assert not second.done()  # ... so its caller still waits
    assert len(store.logs[room.id]) == 1
    store.release()
    await asyncio.wait_for(second, WAIT_S)
    assert [e["command"]["value"] for e in store.logs[room.id]] == ["a", "b"]


async def test_a_failed_shared_commit_acknowledges_nobody_it_held(room_and_store):
    """The save that held b and c fails: its caller gets the error, the other one waiting
    writes them again rather than being answered as stored."""
    rooms, room, store = room_and_store
    produce(room, "a")
    first = asyncio.ensure_future(rooms.persist(room.id))
    await store.next_started()
    produce(room, "b")
    second = asyncio.ensure_future(rooms.persist(room.id))
    produce(room, "c")
    third = asyncio.ensure_future(rooms.persist(room.id))
    await settle()
    store.release()
    await asyncio.wait_for(first, WAIT_S)
    await store.next_started()
    store.fail_next = True
    store.release()
    with pytest.raises(RuntimeError, match="could not save"):
        await asyncio.wait_for(second, WAIT_S)
    await store.next_started()
    await settle()
    assert not third.done() and len(store.logs[room.id]) == 1
    store.release()
    await asyncio.wait_for(third, WAIT_S)
    assert store.saves == [[0], [1, 2], [1, 2]]
    assert [e["command"]["value"] for e in store.logs[room.id]] == ["a", "b", "c"]
