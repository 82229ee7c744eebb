"""Rooms and recordings in the database: nothing acknowledged is lost, recordings round-trip,
and the HTTP side of issue 5 (/s/<slug> for recordings, export, embed, the creation limit).
"""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async as sync_to_async

from broker_core.scenarios import load_builtin
from playground.rooms.models import Recording, RoomCommand, RoomRecord
from playground.rooms.registry import Rooms, set_rooms
from playground.rooms.store import DbStore
from tests.playground.rooms_support import FakeClock

PRODUCE = {"type": "command", "request_id": "c1", "command": {
    "type": "produce", "topic": "signup", "key": "user-1", "value": "hello"}}


class GatedStore(DbStore):
    """Saves wait for the test to let them through."""

    def __init__(self):
        self.gate = asyncio.Event()

    async def save(self, header, entries):
        await self.gate.wait()
        await super().save(header, entries)

    async def save_many(self, batch):
        # What a room's persist uses (saves waiting together are committed together).
        await self.gate.wait()
        return await super().save_many(batch)


def _drop_worker_connection():
    from django.db import connection

    # The test database is in-memory SQLite, whose close() Django ignores (closing would
    # destroy it); the main thread's connection keeps the data alive without this one.
    if connection.connection is not None:
        connection.connection.close()
        connection.connection = None


@pytest.fixture
async def db_rooms(transactional_db):
    """A registry on the database. Its store works in asgiref's shared worker thread; the
    connection it opens there is dropped afterwards, or a later test that has no database
    access would trip over it when Channels closes old connections on a disconnect."""
    clock = FakeClock()
    registry = Rooms(clock=clock, autorun=False, store=GatedStore())
    registry.store.gate.set()
    set_rooms(registry)
    yield registry
    set_rooms(None)
    await sync_to_async(_drop_worker_connection)()


def count_commands(room_id):
    return RoomCommand.objects.filter(room_id=room_id).count()


async def test_a_command_is_acknowledged_only_once_its_row_exists(db_rooms):
    room = db_rooms.create(load_builtin("signup"))
    await db_rooms.persist(room.id)
    db_rooms.store.gate.clear()
    handling = asyncio.create_task(db_rooms.handle(room.id, PRODUCE, {}))
    await asyncio.sleep(0.05)
    assert not handling.done()  # applied, but no ack while its row is not written
    assert len(room.cluster.command_log) == 1
    assert await sync_to_async(count_commands)(room.id) == 0
    db_rooms.store.gate.set()
    reply = json.loads((await handling)["text"])
    assert reply == {"type": "ack", "request_id": "c1", "seq": room.cluster.seq}
    row = await sync_to_async(RoomCommand.objects.get)(room_id=room.id)
    assert (row.index, row.at_ms, row.command) == (0, 0, PRODUCE["command"])
    # A batch: everything applied since the last persist goes in one save.
    room.apply({"type": "produce", "topic": "signup", "value": "a"})
    room.apply({"type": "produce", "topic": "signup", "value": "b"})
    await db_rooms.persist(room.id)
    assert await sync_to_async(count_commands)(room.id) == 3
    record = await sync_to_async(RoomRecord.objects.get)(room_id=room.id)
    assert record.seq == room.cluster.seq and record.state == "live"


async def test_a_command_that_cannot_be_saved_gets_an_error_not_an_ack(db_rooms):
    room = db_rooms.create(load_builtin("signup"))

    async def broken(batch):
        raise OSError("disk full")
    db_rooms.store.save_many = broken
    reply = json.loads((await db_rooms.handle(room.id, PRODUCE, {}))["text"])
    assert reply["type"] == "error" and reply["request_id"] == "c1"
    assert "could not be saved" in reply["message"]


async def test_a_room_this_process_never_saw_is_rebuilt_from_the_database(db_rooms):
    room = db_rooms.create(load_builtin("signup"), owner="sess")
    for message in (PRODUCE, {"type": "control", "request_id": "j", "action": "jump",
                              "ms": 5_000},
                    {**PRODUCE, "request_id": "c2"}):
        assert json.loads((await db_rooms.handle(room.id, message, {"session": "sess"}))[
            "text"])["type"] == "ack"
    # Another process on the same database: it knows nothing but what is stored.
    other = Rooms(clock=FakeClock(), autorun=False, store=DbStore())
    assert await other.aexists(room.id) and not await other.aexists("0123456789")
    restored = await other.wake(room.id)
    assert restored.cluster.seq == room.cluster.seq
    assert restored.cluster.snapshot() == room.cluster.snapshot()
    assert restored.owner == "sess" and restored.open is False
    # Going to sleep moves it out of memory into the store, marked asleep.
    other.sleep(room.id)
    await asyncio.sleep(0.2)
    assert not other.settling
    record = await sync_to_async(RoomRecord.objects.get)(room_id=room.id)
    assert record.state == "asleep"


async def test_share_saves_a_recording_and_its_slug_opens_a_replay(db_rooms):
    from playground.rooms.recordings import recording_document

    room = db_rooms.create(load_builtin("signup"), meta={"name": "signup", "title": "S"})
    await db_rooms.handle(room.id, PRODUCE, {})
    reply = json.loads((await db_rooms.handle(room.id, {"type": "share", "request_id": "s"},
                                              {}))["text"])
    slug = reply["slug"]
    assert len(slug) == 8 and slug.islower() and reply["url"] == f"/s/{slug}"
    doc = await sync_to_async(recording_document)(slug)
    assert doc == {"format": "playground.recording", "version": 1, "slug": slug, "title": "S",
                   "scenario": room.spec, "seed": room.seed,
                   "log": room.cluster.command_log, "end_ms": room.cluster.now_ms}
    row = await sync_to_async(Recording.objects.get)(slug=slug)
    assert row.source_room == room.id and row.scenario_slug == "signup"


def recording_doc(**changes) -> dict:
    doc = {"format": "playground.recording", "version": 1, "title": "Imported",
           "scenario": load_builtin("signup"), "seed": 3,
           "log": [{"at_ms": 0, "command": PRODUCE["command"]},
                   {"at_ms": 2_500, "command": {"type": "topic.create", "name": "extra",
                                                "partitions": 2}}],
           "end_ms": 4_000}
    doc.update(changes)
    return doc


@pytest.mark.django_db
def test_imported_recordings_are_checked_then_saved_and_exported_as_they_came(client):
    from playground.rooms.recordings import recording_document, save_recording

    slug = save_recording(recording_doc(slug="my-demo"))
    assert slug == "my-demo"
    assert recording_document(slug) == recording_doc(slug="my-demo")
    response = client.get("/s/my-demo/export")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="my-demo.json"'
    assert json.loads(response.content) == recording_doc(slug="my-demo")
    assert client.get("/s/nothing-here/export").status_code == 404
    for doc, path in [
        (recording_doc(slug="my-demo"), "$.slug"),  # taken
        (recording_doc(log=[{"at_ms": 0, "command": {"type": "produce", "topic": "nope"}}]),
         "$.log[0].command.topic"),
        (recording_doc(log=[{"at_ms": 5, "command": PRODUCE["command"]},
                            {"at_ms": 1, "command": PRODUCE["command"]}]), "$.log[1].at_ms"),
        (recording_doc(end_ms=-1), "$.end_ms"),
        (recording_doc(extra=True), "$.extra"),
    ]:
        with pytest.raises(Exception) as e:  # noqa: B017 (the library's DocumentError or ours)
            save_recording(doc)
        assert path in [p for p, _ in e.value.errors], (path, e.value.errors)
    assert Recording.objects.count() == 1


@pytest.fixture
def http_rooms(transactional_db):
    registry = Rooms(max_rooms=5, store=DbStore(), create_burst=3, create_per_min=1)
    set_rooms(registry)
    yield registry
    set_rooms(None)


def test_a_recording_slug_opens_a_replay_room_presented_by_its_opener(client, http_rooms):
    from playground.presenter import SESSION_FIELD
    from playground.rooms.recordings import save_recording

    slug = save_recording(recording_doc())
    client.get("/")  # a visitor with a session cookie (any earlier visit gives one)
    client.get(f"/s/{slug}")  # ... and a presenter token
    response = client.get(f"/s/{slug}?embed=1")
    assert response.status_code == 302
    room_id = response["Location"].removeprefix("/r/").removesuffix("?embed=1")
    assert response["Location"] == f"/r/{room_id}?embed=1"
    room = http_rooms.awake[room_id]
    assert room.script["slug"] == slug and room.script["end_ms"] == 4_000
    # The token in the cookie's session presents it.
    assert room.owner == client.session[SESSION_FIELD] and not room.open
    assert RoomRecord.objects.get(room_id=room_id).replay_of == slug
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert page.context["bootstrap"]["replay"] == {"slug": slug, "end_ms": 4_000,
                                                   "title": "Imported"}


def test_the_embedded_page_has_no_site_chrome(client, http_rooms):
    room_path = client.get("/s/signup?embed=1")["Location"]
    embedded = client.get(room_path).content.decode()
    normal = client.get(room_path.removesuffix("?embed=1")).content.decode()
    assert 'class="brand"' in normal and 'class="brand"' not in embedded
    assert 'class="room-page embed"' in embedded and 'class="room-page"' in normal
    for html in (embedded, normal):
        assert 'id="play"' in html and 'id="clock"' in html  # the view and time controls
    assert '"embed": true' in embedded and '"embed": false' in normal


def test_too_many_new_rooms_from_one_address_get_a_429_page(client, http_rooms):
    for _ in range(3):
        assert client.get("/s/signup").status_code == 302
    response = client.get("/s/signup")
    assert response.status_code == 429
    assert 40 <= int(response["Retry-After"]) <= 60
    assert "Too many new rooms" in response.content.decode()
    # Another address is not held up; unknown slugs stay 404 (they cost nothing).
    assert client.get("/s/signup", REMOTE_ADDR="10.1.2.3").status_code == 302
    assert client.get("/s/no-such-thing").status_code == 404


@pytest.mark.django_db
def test_rooms_untouched_for_the_keep_period_are_deleted_but_not_recordings():
    import datetime

    from django.utils import timezone

    from playground.rooms.recordings import save_recording

    store = DbStore()
    for room_id in ("aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"):
        store.save_sync({"room_id": room_id, "spec": {}, "seed": 1, "records_max": 0,
                         "meta": {}, "owner": "", "open": True, "state": "asleep",
                         "replay_of": "", "now_ms": 0, "seq": 0, "speed": 1.0,
                         "narration_step": 0, "notices": []},
                        [(0, {"at_ms": 0, "command": {"type": "produce"}})])
    long_ago = timezone.now() - datetime.timedelta(days=31)
    RoomRecord.objects.exclude(room_id="cccccccccc").update(updated=long_ago)
    slug = save_recording(recording_doc())
    assert store.forget_idle_sync(30 * 86_400, keep={"bbbbbbbbbb"}) == 2  # a room, its row
    assert set(RoomRecord.objects.values_list("room_id", flat=True)) == {"bbbbbbbbbb",
                                                                          "cccccccccc"}
    assert RoomCommand.objects.count() == 2
    assert Recording.objects.filter(slug=slug).exists()


def test_an_embedded_room_opened_without_a_cookie_is_the_openers_to_drive(client, http_rooms):
    """Inside a course page's iframe the browser sends no cookie set there: a presenter could
    never be recognised, so such a room is open (its id is known only to that frame)."""
    response = client.get("/s/signup?embed=1")
    room = http_rooms.awake[response["Location"].removeprefix("/r/").removesuffix("?embed=1")]
    assert room.owner is None and room.open
    assert room.may_control({"viewer": "v", "session": None})


def test_the_presenter_stays_the_presenter_after_logging_in(client, http_rooms):
    """Django gives the session a new key at login; the presenter token is in its data."""
    from django.contrib.auth.models import User

    from playground.presenter import SESSION_FIELD

    response = client.get("/s/signup")
    room = http_rooms.awake[response["Location"].removeprefix("/r/")]
    key_before = client.session.session_key
    client.force_login(User.objects.create_user("teacher", password="x", is_staff=True))
    assert client.session.session_key != key_before
    assert room.is_presenter({"viewer": "v", "session": client.session[SESSION_FIELD]})
    client.logout()  # a flushed session gives up the claim
    assert client.session.get(SESSION_FIELD) is None


@pytest.mark.django_db(transaction=True)
async def test_a_checkpoint_saves_every_moved_room_in_one_store_call():
    """Clock progress of twenty busy rooms is one transaction, not twenty commits that a
    viewer's command would queue behind; a room whose save fails is tried again later."""
    from playground.rooms.registry import Rooms
    from playground.rooms.store import DbStore

    class CountingStore(DbStore):
        calls = 0

        async def save_many(self, batch):
            CountingStore.calls += 1
            return await super().save_many(batch)

    store = CountingStore()
    clock = FakeClock()
    registry = Rooms(clock=clock, autorun=False, store=store)
    rooms = [registry.create(load_builtin("signup")) for _ in range(5)]
    for room in rooms:
        await registry.persist(room.id)
        room.goal_ms = 30_000
        room.advance(clock())
    CountingStore.calls = 0
    await registry.checkpoint()
    assert CountingStore.calls == 1
    # Saves asked for together (five viewers' commands at once) are one commit too.
    await asyncio.gather(*(registry.persist(room.id) for room in rooms))
    assert CountingStore.calls == 2
    for room in rooms:
        stored = await store.load(room.id)
        assert (stored["now_ms"], stored["seq"]) == (30_000, room.cluster.seq)
    await registry.checkpoint()  # nothing moved since: nothing to save
    assert CountingStore.calls == 2


async def test_a_save_whose_caller_went_away_still_counts():
    """A persist cancelled while its group commit waits (Daphne cancels a closed socket's
    handler) is still written, and the room knows it: later saves do not write it again."""
    from playground.rooms.store import MemoryStore

    rooms = Rooms(clock=FakeClock(), autorun=False, store=MemoryStore())
    room = rooms.create(load_builtin("signup"))
    await rooms.persist(room.id)
    room.apply({"type": "produce", "topic": "signup", "value": "a"})
    task = asyncio.ensure_future(rooms.persist(room.id))
    await asyncio.sleep(0)  # queued for the next group commit
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(rooms.store.logs[room.id]) == 1 and room.persisted == 1
    room.apply({"type": "produce", "topic": "signup", "value": "b"})
    await rooms.persist(room.id)  # before: the store refused entry 0 again, for good
    assert len(rooms.store.logs[room.id]) == 2


def test_opening_a_scenario_passes_on_how_the_page_draws_and_nothing_else(client, http_rooms):
    from playground.rooms.recordings import save_recording

    slug = save_recording(recording_doc())
    response = client.get(f"/s/{slug}?view=brokers&projector=1&embed=1&next=//evil.example")
    room_id = response["Location"].split("?")[0].removeprefix("/r/")
    assert response["Location"] == f"/r/{room_id}?embed=1&view=brokers&projector=1"
    # A value the page does not know is left behind, as is a parameter it does not take.
    response = client.get(f"/s/{slug}?view=<script>&projector=yes")
    assert "?" not in response["Location"]


async def test_a_command_is_encoded_once_and_stored_as_the_room_encoded_it(db_rooms):
    """The room's own JSON text of each command (what it weighed against the recording's
    limit) is what the database gets: the store does not encode it again. A save that failed
    is taken again without it, and the store encodes then; either way the log reads back the
    same."""
    from django.db import connection

    room = db_rooms.create(load_builtin("signup"))
    room.apply({"type": "produce", "topic": "signup", "key": "k", "value": "caf\u00e9 \u2615"})
    encoded = []
    operations = type(connection.ops)  # the store's thread has a connection of its own
    adapt = operations.adapt_json_value

    def counting(ops, value, encoder):
        if isinstance(value, dict) and value.get("type") == "produce":  # not the header's
            encoded.append(value)
        return adapt(ops, value, encoder)
    operations.adapt_json_value = counting
    try:
        await db_rooms.persist(room.id)
        assert encoded == []  # written as the room encoded it
        room.apply({"type": "produce", "topic": "signup", "value": "again"})
        saves = db_rooms.store.save_many

        async def broken(batch):
            raise OSError("disk full")
        db_rooms.store.save_many = broken
        with pytest.raises(OSError, match="disk full"):
            await db_rooms.persist(room.id)
        db_rooms.store.save_many = saves
        await db_rooms.persist(room.id)  # taken again: no text now, so the store encodes
        assert [c["value"] for c in encoded] == ["again"]
    finally:
        operations.adapt_json_value = adapt
    rows = await sync_to_async(lambda: list(RoomCommand.objects.filter(
        room__room_id=room.id).order_by("index").values_list("command", flat=True)))()
    assert rows == [e["command"] for e in room.cluster.command_log]
    assert rows[0]["value"] == "caf\u00e9 \u2615"
