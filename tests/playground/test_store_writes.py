"""The database store's saves: one connection kept between them (replaced only when it no
longer answers), and rows written with plain SQL that read back as the ORM wrote them."""

import pytest
from asgiref.sync import sync_to_async as on_db_thread
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseWrapper

from playground.rooms.models import RoomCommand, RoomRecord
from playground.rooms.store import DbStore

pytestmark = pytest.mark.django_db(transaction=True)


def header(room_id: str = "storetest1", **changes) -> dict:
    return {"room_id": room_id, "spec": {"topics": [{"name": "t", "partitions": 2}]},
            "seed": "seed-é", "records_max": 1000, "meta": {"title": "Zürich ✓"},
            "owner": "", "open": True, "state": "live", "replay_of": "", "now_ms": 0,
            "seq": 0, "speed": 1.0, "narration_step": 0, "notices": [], **changes}


def entry(value, at_ms: int = 0) -> dict:
    return {"at_ms": at_ms, "command": {"type": "produce.records", "topic": "t",
                                        "records": ((None, value, None),)}}


@pytest.fixture(autouse=True)
async def drop_worker_connection():
    """The saves' connection on the database thread outlives the test (that is the point):
    dropped afterwards, as tests/playground/test_rooms_persistence.py does, so a later test
    without database access does not find it open."""
    yield

    def drop():
        # In-memory SQLite (the test database): Django's close() keeps it, this one goes.
        if connection.connection is not None:
            connection.connection.close()
            connection.connection = None
    await on_db_thread(drop)()


@pytest.fixture
def closes(monkeypatch):
    """Every close of a database connection, on any thread."""
    calls = []
    original = DatabaseWrapper.close

    def close(self):
        calls.append(self.alias)
        return original(self)
    monkeypatch.setattr(DatabaseWrapper, "close", close)
    return calls


async def test_saves_keep_their_connection_open(closes):
    """Closing after each save (what `database_sync_to_async` does with CONN_MAX_AGE=0) cost
    half of every acknowledged command's save: SQLite checkpoints its log on close."""
    store = DbStore()
    for i in range(3):
        assert await store.save_many([(header(seq=i), [(i, entry(f"v{i}"))])]) == [True]
    assert closes == []
    assert await on_db_thread(RoomCommand.objects.count)() == 3


async def test_a_connection_that_no_longer_answers_is_replaced_before_the_next_save(
        closes, monkeypatch):
    store = DbStore()
    assert await store.save_many([(header(), [(0, entry("a"))])]) == [True]

    def break_it():
        connection.errors_occurred = True  # as Django marks it after a failed query
    await on_db_thread(break_it)()
    monkeypatch.setattr(DatabaseWrapper, "is_usable", lambda self: False)
    assert await store.save_many([(header(seq=1), [(1, entry("b"))])]) == [True]
    assert closes == ["default"]


async def test_a_connection_with_an_error_that_still_answers_is_kept(closes):
    store = DbStore()
    assert await store.save_many([(header(), [(0, entry("a"))])]) == [True]

    def mark():
        connection.errors_occurred = True
    await on_db_thread(mark)()
    assert await store.save_many([(header(seq=1), [(1, entry("b"))])]) == [True]
    assert closes == []
    assert await on_db_thread(lambda: connection.errors_occurred)() is False


def test_a_saved_room_reads_back_as_written():
    """Header fields of every type (JSON, text, numbers, the bool) and command-log rows,
    written with plain SQL, load as the ORM reads them; a second save rewrites the header
    and appends."""
    store = DbStore()
    store.save_sync(header(), [(0, entry("first", at_ms=5))])
    before = RoomRecord.objects.get(room_id="storetest1").updated
    store.save_sync(header(now_ms=7_000, seq=42, speed=2.5, narration_step=3, open=False,
                           owner="sess", notices=[{"level": "warning", "text": "ünïcode"}]),
                    [(1, entry("second ✓", at_ms=7_000)), (2, entry(None, at_ms=7_000))])
    record = RoomRecord.objects.get(room_id="storetest1")
    assert (record.now_ms, record.seq, record.speed, record.narration_step) == (7_000, 42, 2.5, 3)
    assert (record.open, record.owner, record.state) == (False, "sess", "live")
    assert record.spec == header()["spec"] and record.meta == {"title": "Zürich ✓"}
    assert record.seed == "seed-é" and record.notices == [{"level": "warning",
                                                           "text": "ünïcode"}]
    assert record.updated > before
    loaded = store.load_sync("storetest1")
    assert [(e["at_ms"], e["command"]["records"]) for e in loaded["log"]] == [
        (5, [[None, "first", None]]), (7_000, [[None, "second ✓", None]]),
        (7_000, [[None, None, None]])]


def test_a_save_that_repeats_a_stored_entry_changes_nothing():
    """(room, index) is unique: writing entry 0 twice fails that save whole, header included,
    and the store goes on saving afterwards."""
    store = DbStore()
    store.save_sync(header(), [(0, entry("a"))])
    assert store.save_many_sync([(header(seq=9), [(0, entry("again"))])]) == [False]
    assert RoomRecord.objects.get(room_id="storetest1").seq == 0
    assert list(RoomCommand.objects.values_list("command__records", flat=True)) == [
        [[None, "a", None]]]
    assert store.save_many_sync([(header(seq=1), [(1, entry("b"))])]) == [True]
    assert RoomCommand.objects.count() == 2


def test_one_rooms_failed_save_leaves_the_others_in_the_same_commit():
    store = DbStore()
    store.save_sync(header(), [(0, entry("a"))])
    assert store.save_many_sync([(header(seq=9), [(0, entry("again"))]),
                                 (header("storetest2"), [(0, entry("x"))])]) == [False, True]
    assert set(RoomRecord.objects.values_list("room_id", "seq")) == {("storetest1", 0),
                                                                     ("storetest2", 0)}
