"""Opening a stored scenario in a fresh room (the admin's "Open in playground").

Rooms are made the way `/s/<slug>` makes them: `playground.rooms.registry.get_rooms().start`
with the scenario's spec, seed and the page's metadata, presented by the admin's session and
stored before the redirect (so a restart brings it back like any room). The registry belongs
to the event loop its rooms' runners use (creating one may put another room to sleep, which must
not race that room's tick from a worker thread), so a sync view hands the call to the loop with
async_to_sync: under Daphne that is the server's loop; in a plain sync test, a private one.
"""

from asgiref.sync import async_to_sync

from broker_core.scenario import validate_scenario
from playground.rooms.registry import get_rooms

META_KEYS = ("name", "title", "description", "teaches")


def room_meta(spec: dict, slug: str) -> dict:
    meta = {key: spec.get(key) or "" for key in META_KEYS}
    meta["name"] = slug
    return meta


async def _create(spec: dict, seed, meta: dict, owner: str | None) -> str:
    return (await get_rooms().start(spec, seed=seed, meta=meta, owner=owner)).id


def open_room_for(scenario, owner: str | None = None) -> str:
    """A new room running `scenario` (a library Scenario); returns the room id. Raises
    broker_core's ScenarioError if the stored scenario no longer validates, and
    playground.rooms.errors.RoomsFull when the server has no room to spare. `owner`: the
    session key of the room's presenter (None: open to everyone)."""
    spec = validate_scenario(scenario.to_spec())
    return async_to_sync(_create)(spec, spec["seed"], room_meta(spec, scenario.slug), owner)
