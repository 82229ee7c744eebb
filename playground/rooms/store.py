"""Where rooms and recordings live between processes: the database, or (tests) a dict.

The registry talks to a store only through these calls, all plain JSON: `save(header,
entries)` (the room's header, rewritten, plus the command-log entries written since the last
save, appended), `load(room_id)` (a recording `Room.replay` accepts), `exists`, and the
recording pair `save_recording` / `load_recording`. `DbStore` does each in Django's ORM on
its sync thread (Channels' `database_sync_to_async`, which also drops stale connections), so
the event loop never blocks on the database; `MemoryStore`
keeps the same shapes in dicts for tests that have no database.
"""

import copy

from channels.db import database_sync_to_async as sync_to_async

from playground.links.namespace import lookup_recording, random_slug

from .recordings import save_fields


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
            log.append(copy.deepcopy(entry))
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


class DbStore:
    """Rooms and recordings in the database (playground.rooms.models)."""

    def save_sync(self, header: dict, entries: list[tuple[int, dict]]) -> None:
        from django.db import transaction
        from django.utils import timezone

        from .models import RoomCommand, RoomRecord

        fields = {k: v for k, v in header.items() if k != "room_id"}
        with transaction.atomic():
            # One UPDATE in the usual case (the room exists); an INSERT the first time.
            if not RoomRecord.objects.filter(room_id=header["room_id"]).update(
                    **fields, updated=timezone.now()):
                RoomRecord.objects.create(room_id=header["room_id"], **fields)
            if entries:
                # (room, index) is unique: a second write of an entry fails the whole save
                # rather than leaving two versions of the room's past.
                RoomCommand.objects.bulk_create(
                    [RoomCommand(room_id=header["room_id"], index=index, at_ms=entry["at_ms"],
                                 command=entry["command"]) for index, entry in entries])

    async def save(self, header, entries) -> None:
        await sync_to_async(self.save_sync)(header, entries)

    def save_many_sync(self, batch: list[tuple[dict, list]]) -> list[bool]:
        import logging

        from django.db import transaction

        out = []
        with transaction.atomic():
            for header, entries in batch:
                # Each room in a savepoint of its own: one that fails does not take the
                # others' saves with it.
                try:
                    self.save_sync(header, entries)
                    out.append(True)
                except Exception:
                    logging.getLogger(__name__).exception("room %s: saving it failed",
                                                          header["room_id"])
                    out.append(False)
        return out

    async def save_many(self, batch: list[tuple[dict, list]]) -> list[bool]:
        """Several rooms' saves (`save`'s arguments each) in one transaction; whether each
        one was saved."""
        return await sync_to_async(self.save_many_sync)(batch)

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
