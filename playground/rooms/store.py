"""Where rooms and recordings live between processes: the database, or (tests) a dict.

The registry talks to a store only through these calls, all plain JSON: `save(header,
entries)` (the room's header, rewritten, plus the command-log entries written since the last
save, appended), `load(room_id)` (a recording `Room.replay` accepts), `exists`, and the
recording pair `save_recording` / `load_recording`. `DbStore` does each in Django's ORM on
its sync thread, so the event loop never blocks on the database: reads through Channels'
`database_sync_to_async` (which closes the thread's connection before and after, as
CONN_MAX_AGE=0 asks), saves through `_saving`, which keeps it open (see there); `MemoryStore`
keeps the same shapes in dicts for tests that have no database.
"""

import copy
import functools
import logging

from asgiref.sync import sync_to_async as _sync_thread
from channels.db import database_sync_to_async as sync_to_async

from playground.links.namespace import lookup_recording, random_slug

from .recordings import save_fields

log = logging.getLogger(__name__)

# A saved entry may carry its command's JSON text under this key (the room encoded it once
# already, to weigh it: Room.command_texts): the store writes that text as it is rather than
# encoding the command again. It is never part of what a store gives back.
STORED_TEXT = "json"


def _recording_from(header: dict, log: list, script: dict | None) -> dict:
    return {"id": header["room_id"], "spec": header["spec"], "seed": header["seed"],
            "log": log, "now_ms": header["now_ms"], "seq": header["seq"],
            "records_max": header["records_max"], "meta": header["meta"],
            "narration_step": header["narration_step"], "speed": header["speed"],
            "notices": header["notices"], "owner": header["owner"] or None,
            "open": header["open"], "replay": script}


def script_of(recording: dict) -> dict:
    """A replay room's script from a saved recording."""
    return {"slug": recording["slug"], "log": recording["log"], "end_ms": recording["end_ms"]}


class MemoryStore:
    """A store in this process's memory: what `Rooms()` uses unless given another."""

    def __init__(self):
        self.rooms: dict[str, dict] = {}
        self.logs: dict[str, list] = {}
        self.recordings: dict[str, dict] = {}

    def save_sync(self, header: dict, entries: list[tuple[int, dict]]) -> None:
        room_id = header["room_id"]
        log = self.logs.setdefault(room_id, [])
        for index, entry in entries:
            if index != len(log):
                raise ValueError(f"room {room_id}: entry {index} after {len(log)} entries")
            log.append({"at_ms": entry["at_ms"], "command": copy.deepcopy(entry["command"])})
        self.rooms[room_id] = copy.deepcopy(header)

    async def save(self, header, entries) -> None:
        self.save_sync(header, entries)

    async def save_many(self, batch: list[tuple[dict, list]]) -> list[bool]:
        out = []
        for header, entries in batch:
            try:
                await self.save(header, entries)
                out.append(True)
            except Exception:
                out.append(False)
        return out

    async def load(self, room_id: str) -> dict | None:
        header = self.rooms.get(room_id)
        if header is None:
            return None
        script = None
        if header["replay_of"]:
            recording = self.recordings.get(header["replay_of"])
            if recording is None:
                return None
            script = script_of(recording)
        return _recording_from(header, copy.deepcopy(self.logs.get(room_id, [])), script)

    def exists_sync(self, room_id: str) -> bool:
        return room_id in self.rooms

    async def exists(self, room_id: str) -> bool:
        return room_id in self.rooms

    def info_sync(self, room_id: str) -> dict | None:
        return copy.deepcopy(self.rooms.get(room_id))

    async def info(self, room_id: str) -> dict | None:
        return self.info_sync(room_id)

    async def forget_idle(self, idle_s: float, keep: set) -> int:
        return 0  # tests' rooms live as long as the test

    async def save_recording(self, fields: dict) -> str:
        slug = fields.get("slug") or random_slug(lambda s: s in self.recordings)
        self.recordings[slug] = {**copy.deepcopy(fields), "slug": slug}
        return slug

    async def load_recording(self, slug: str) -> dict | None:
        return copy.deepcopy(self.recordings.get(slug))


def _keep_connection_if_usable() -> None:
    """Django's `close_if_unusable_or_obsolete` without its age rule: the thread's connection
    is closed only if it cannot be trusted (autocommit left changed, or an error since which
    it no longer answers), so the next query opens a fresh one."""
    db = _db()
    if db.connection is None:
        return
    if db.get_autocommit() != db.settings_dict["AUTOCOMMIT"]:
        db.close()
    elif db.errors_occurred:
        if db.is_usable():
            db.errors_occurred = False
        else:
            db.close()


def _saving(fn):
    """`fn` on the database's sync thread (the one `database_sync_to_async` uses), its
    connection kept open between saves. Every acknowledged command waits for a save, and
    closing the connection after each one, as `database_sync_to_async` does with
    CONN_MAX_AGE=0, cost two thirds of each save (a third in the close, a third in the next
    commit): closing SQLite's last connection checkpoints the write-ahead log into the
    database and removes it, and the next save opens, sets its pragmas and starts the log
    again. Another call on that thread may still close it (Channels' calls, the end of an
    HTTP request): the next save simply opens a new one."""
    def run(*args):
        _keep_connection_if_usable()
        return fn(*args)
    return _sync_thread(run, thread_sensitive=True)


def _db():
    """This thread's default connection (the proxy `django.db.connection` looks it up at
    every attribute: a few microseconds each, and a save reads dozens)."""
    from django.db import connections

    return connections["default"]


@functools.cache
def _header_sql(vendor: str, names: tuple[str, ...]) -> tuple[str, list]:
    """The UPDATE that rewrites a room's header fields `names` and its `updated` time, and
    how each value is prepared; built once per field set (the ORM's `update()` built it anew
    at every save, a fixed cost as large as writing a few hundred records)."""
    from django.db import connections, models

    from .models import RoomRecord

    meta = RoomRecord._meta
    quote = connections["default"].ops.quote_name
    fields = [meta.get_field(name) for name in (*names, "updated")]
    sql = (f"UPDATE {quote(meta.db_table)} SET "
           + ", ".join(f"{quote(field.column)} = %s" for field in fields)
           + f" WHERE {quote(meta.pk.column)} = %s")
    # JSON and times go through their field (the backend's JSON adapter, time zones); the
    # other columns are plain numbers, text and booleans, stored as they are.
    preps = [field.get_db_prep_save if isinstance(field, (models.JSONField,
                                                           models.DateTimeField)) else None
             for field in fields]
    return sql, preps


def _update_room(db, header: dict) -> bool:
    """Rewrite the stored header of room ``header["room_id"]`` (and its `updated`); False if
    it has no row yet."""
    from django.utils import timezone

    names = tuple(name for name in header if name != "room_id")
    sql, preps = _header_sql(db.vendor, names)
    values = [*(header[name] for name in names), timezone.now()]
    params = [value if prep is None else prep(value, db)
              for prep, value in zip(preps, values, strict=True)]
    params.append(header["room_id"])
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount > 0


@functools.cache
def _insert_sql(vendor: str) -> str:
    from django.db import connections

    from .models import RoomCommand

    meta = RoomCommand._meta
    quote = connections["default"].ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column)
                        for name in ("room", "index", "at_ms", "command"))
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES (%s, %s, %s, %s)"


def _insert_commands(db, room_id: str, entries: list[tuple[int, dict]]) -> None:
    """Append command-log rows in one `executemany`, what `bulk_create` ends in, without its
    model objects and per-field preparation (a third of a save's time, a row per produce
    batch), nor, with DEBUG, the text of every row kept in the connection's query log."""
    adapt = db.ops.adapt_json_value  # what JSONField stores, as the backend takes it
    # SQLite's JSONField is the JSON text itself: the room's own encoding goes in as it is.
    texts = db.vendor == "sqlite"
    with db.cursor() as cursor:
        cursor.executemany(_insert_sql(db.vendor),
                           [(room_id, index, entry["at_ms"],
                             (texts and entry.get(STORED_TEXT)) or adapt(entry["command"], None))
                            for index, entry in entries])


class DbStore:
    """Rooms and recordings in the database (playground.rooms.models)."""

    def save_sync(self, header: dict, entries: list[tuple[int, dict]]) -> None:
        from django.db import transaction

        from .models import RoomRecord

        db = _db()
        with transaction.atomic():
            # One UPDATE in the usual case (the room exists); an INSERT the first time.
            if not _update_room(db, header):
                RoomRecord.objects.create(**header)
            if entries:
                # (room, index) is unique: a second write of an entry fails the whole save
                # rather than leaving two versions of the room's past.
                _insert_commands(db, header["room_id"], entries)

    async def save(self, header, entries) -> None:
        await _save_on_db_thread(self, header, entries)

    def save_many_sync(self, batch: list[tuple[dict, list]]) -> list[bool]:
        from django.db import transaction

        if len(batch) == 1:
            # The usual case (one room's persist): its own transaction, no savepoint.
            return [self._save_logged(*batch[0])]
        with transaction.atomic():
            # Each room in a savepoint of its own (save_sync's atomic, nested): one that fails
            # does not take the others' saves with it.
            return [self._save_logged(header, entries) for header, entries in batch]

    def _save_logged(self, header: dict, entries: list) -> bool:
        try:
            self.save_sync(header, entries)
            return True
        except Exception:
            log.exception("room %s: saving it failed", header["room_id"])
            return False

    async def save_many(self, batch: list[tuple[dict, list]]) -> list[bool]:
        """Several rooms' saves (`save`'s arguments each) in one transaction; whether each
        one was saved."""
        return await _save_many_on_db_thread(self, batch)

    def load_sync(self, room_id: str) -> dict | None:
        from .models import RoomRecord

        record = RoomRecord.objects.filter(room_id=room_id).first()
        if record is None:
            return None
        rows = list(record.commands.order_by("index").values_list("index", "at_ms", "command"))
        if [row[0] for row in rows] != list(range(len(rows))):
            raise RuntimeError(f"room {room_id}: its stored command log has gaps")
        script = None
        if record.replay_of:
            recording = lookup_recording(record.replay_of)
            if recording is None:
                return None  # its recording was deleted: the replay room goes with it
            script = script_of(recording)
        header = {f.name: getattr(record, f.attname) for f in RoomRecord._meta.concrete_fields}
        log = [{"at_ms": at_ms, "command": command} for _, at_ms, command in rows]
        return _recording_from(header, log, script)

    async def load(self, room_id: str) -> dict | None:
        return await sync_to_async(self.load_sync)(room_id)

    def exists_sync(self, room_id: str) -> bool:
        from .models import RoomRecord

        return RoomRecord.objects.filter(room_id=room_id).exists()

    async def exists(self, room_id: str) -> bool:
        return await sync_to_async(self.exists_sync)(room_id)

    def info_sync(self, room_id: str) -> dict | None:
        from .models import RoomRecord

        return RoomRecord.objects.filter(room_id=room_id).values(
            "room_id", "spec", "meta", "replay_of", "now_ms").first()

    async def info(self, room_id: str) -> dict | None:
        return await sync_to_async(self.info_sync)(room_id)

    def forget_idle_sync(self, idle_s: float, keep: set) -> int:
        """Delete rooms (and their logs) nobody changed for `idle_s`, except `keep` (awake
        here). Recordings are kept: they are what a link points to."""
        import datetime

        from django.utils import timezone

        from .models import RoomRecord

        cutoff = timezone.now() - datetime.timedelta(seconds=idle_s)
        deleted, _ = RoomRecord.objects.filter(updated__lt=cutoff).exclude(
            room_id__in=keep).delete()
        return deleted

    async def forget_idle(self, idle_s: float, keep: set) -> int:
        return await sync_to_async(self.forget_idle_sync)(idle_s, keep)

    async def save_recording(self, fields: dict) -> str:
        return await sync_to_async(save_fields)(fields)

    async def load_recording(self, slug: str) -> dict | None:
        return await sync_to_async(lookup_recording)(slug)


# Made once (asgiref's wrapper costs a little to build, and every acknowledged command saves).
_save_on_db_thread = _saving(lambda store, header, entries: store.save_sync(header, entries))
_save_many_on_db_thread = _saving(lambda store, batch: store.save_many_sync(batch))
