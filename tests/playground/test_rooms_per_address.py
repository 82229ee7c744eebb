"""Rooms are a shared resource: one address cannot fill the server, and waking a stored room
costs what creating one costs (issue 11)."""

import pytest
from channels.layers import InMemoryChannelLayer

from playground.rooms.registry import Rooms, TooManyRooms
from tests.playground.rooms_support import clock, quiet_spec  # noqa: F401

pytestmark = pytest.mark.asyncio


def registry(clock, **kwargs) -> Rooms:  # noqa: F811
    return Rooms(clock=clock, autorun=False, layer=InMemoryChannelLayer(), **kwargs)


async def test_one_address_cannot_take_every_room_of_the_server(clock):  # noqa: F811
    rooms = registry(clock, max_rooms=10, rooms_per_address=3)
    mine = [rooms.create(quiet_spec(), client="10.0.0.9") for _ in range(3)]
    for room in mine:
        await rooms.attach(room.id, f"tab-{room.id}")
    with pytest.raises(TooManyRooms) as refused:
        rooms.create(quiet_spec(), client="10.0.0.9")
    assert "PLAYGROUND_ROOMS_PER_ADDRESS = 3" in str(refused.value)
    # Everyone else still gets rooms.
    assert rooms.create(quiet_spec(), client="10.0.0.10").client == "10.0.0.10"
    # Past its share, an address's own idlest unwatched room makes way, not someone else's.
    await rooms.detach(mine[0].id, f"tab-{mine[0].id}")
    clock.forward(1)
    fresh = rooms.create(quiet_spec(), client="10.0.0.9")
    assert mine[0].id not in rooms.awake and fresh.id in rooms.awake


async def test_a_classroom_behind_one_address_each_opens_a_room(clock):  # noqa: F811
    """The defaults: 50 students behind one school address, each opening a room at once."""
    from django.conf import settings

    rooms = Rooms(clock=clock, autorun=False, layer=InMemoryChannelLayer(),
                  max_rooms=settings.PLAYGROUND_MAX_ROOMS,
                  create_burst=settings.PLAYGROUND_ROOM_CREATE_BURST,
                  create_per_min=settings.PLAYGROUND_ROOM_CREATE_PER_MIN,
                  rooms_per_address=settings.PLAYGROUND_ROOMS_PER_ADDRESS)
    for student in range(50):
        assert rooms.allow_creation("192.0.2.1") == 0, f"student {student} was refused"
        room = rooms.create(quiet_spec(), client="192.0.2.1")
        await rooms.attach(room.id, f"student-{student}")


async def test_waking_a_stored_room_draws_on_the_creation_allowance(clock):  # noqa: F811
    rooms = registry(clock, create_burst=2, create_per_min=1)
    stored = [rooms.create(quiet_spec()) for _ in range(3)]
    for room in stored:
        rooms.sleep(room.id)
    await rooms.attach(stored[0].id, "a", client="10.0.0.9")
    await rooms.attach(stored[1].id, "b", client="10.0.0.9")
    with pytest.raises(TooManyRooms) as refused:
        await rooms.attach(stored[2].id, "c", client="10.0.0.9")
    assert refused.value.wait_s > 0 and stored[2].id not in rooms.awake
    # A room already awake costs nothing to watch.
    await rooms.attach(stored[0].id, "d", client="10.0.0.9")
    clock.forward(61)
    await rooms.attach(stored[2].id, "c", client="10.0.0.9")
    assert stored[2].id in rooms.awake


async def test_an_old_link_to_a_missing_room_costs_no_allowance(clock):  # noqa: F811
    """Fifty students clicking yesterday's expired /r/<id> must not use up the class's
    allowance for opening scenarios."""
    from playground.rooms.registry import NoSuchRoom

    rooms = registry(clock, create_burst=3, create_per_min=1)
    for _ in range(3):
        with pytest.raises(NoSuchRoom):
            await rooms.page("deadbeef00", client="192.0.2.1")
    assert rooms.allow_creation("192.0.2.1") == 0


async def test_a_wake_that_fails_gives_its_token_back(clock):  # noqa: F811
    from playground.rooms.registry import RoomsFull

    rooms = registry(clock, max_rooms=1, create_burst=3, create_per_min=1)
    asleep = rooms.create(quiet_spec())
    rooms.sleep(asleep.id)
    busy = rooms.create(quiet_spec())
    await rooms.attach(busy.id, "v")
    for _ in range(3):  # the server is full: every reload fails
        with pytest.raises(RoomsFull):
            await rooms.page(asleep.id, client="192.0.2.1")
    await rooms.detach(busy.id, "v")
    await rooms.page(asleep.id, client="192.0.2.1")  # space now: the allowance is intact
    assert asleep.id in rooms.awake
