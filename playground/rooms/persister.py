"""What the store has of each room, and the saves that keep it so.

A room is stored as a header (rewritten at every save) and its command log (appended: an entry
is written once, never rewritten; store.py). For each room object the persister keeps its
`Marks`: the *cursor* (how many log entries the store has, so a save writes only the ones
after it), the *checkpoint mark* (the clock, ``(now_ms, seq)``, of the header it last stored,
and when: a checkpoint skips a room that has not moved and was saved recently) and the lock
that keeps one room's saves in order. Marks belong to the room *object*: a room put to sleep
and woken again is a new object, whose cursor the registry sets from what its recording says
is stored (`woke`), while the old object's last save may still be finishing.

A replay room's log is its recording's: only its header is its own, so its cursor never moves.

Saves are group-committed: while one `store.save_many` is written the next saves queue, and
then go as one (see `_save`). The registry decides *when* a room is saved (before an ack, as it
goes to sleep, every few seconds while its clock moves) and holds the lease that makes it the
room's one writer; this module decides *what* is written and keeps the count.
"""

import asyncio
import logging
import weakref

from .store import STORED_TEXT

log = logging.getLogger(__name__)


class Marks:
    """The persister's bookkeeping for one room object."""

    __slots__ = ("cursor", "checkpoint", "checkpoint_s", "lock", "taken", "stored")

    def __init__(self):
        self.cursor = 0  # command-log entries the store has
        self.checkpoint: tuple[int, int] | None = None  # (now_ms, seq) last stored
        self.checkpoint_s = 0.0  # when, on the registry's clock
        self.lock: asyncio.Lock | None = None  # made on the loop that first saves
        # Saves numbered in the order their snapshots were taken (`unsaved`, under the lock):
        # how many were taken, and the highest number stored. A persist that finds a save
        # taken after it began already stored has nothing left to write (see `persist`).
        self.taken = 0
        self.stored = 0


class Persister:
    def __init__(self, store, clock):
        self.store = store
        self.clock = clock
        self._marks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        # Saves waiting for the next group commit, and the task writing them (see `_save`).
        self._queue: list = []
        self._saver: asyncio.Task | None = None

    def _of(self, room) -> Marks:
        marks = self._marks.get(room)
        if marks is None:
            marks = self._marks[room] = Marks()
        return marks

    def cursor(self, room) -> int:
        """How many of the room's command-log entries the store has."""
        return self._of(room).cursor

    def woke(self, room, cursor: int) -> None:
        """A room rebuilt from a recording of which the store has `cursor` log entries."""
        self._of(room).cursor = cursor

    def has_unsaved(self, room) -> bool:
        """Whether the room applied commands the store does not have yet."""
        return room.script is None and len(room.cluster.command_log) > self._of(room).cursor

    def lock(self, room) -> asyncio.Lock:
        marks = self._of(room)
        if marks.lock is None:
            marks.lock = asyncio.Lock()
        return marks.lock

    def unsaved(self, room, state: str = "live") -> tuple[dict, list]:
        """(header, entries): what a save of the room writes now."""
        marks = self._of(room)
        marks.taken += 1
        log_ = room.cluster.command_log
        # A replay room's log is its recording's: only its header is its own.
        start = marks.cursor if room.script is None else len(log_)
        texts = room.command_texts
        entries = []
        for i in range(start, len(log_)):
            # The entry's own dict, to add the text to; its command is shared: the log's
            # entries are the cluster's copies, never changed once appended (a deep copy
            # here was a tenth of a small Produce request's cost).
            entry = dict(log_[i])
            # Taken, not kept: a save that fails is taken again, and the store then encodes.
            text = texts.pop(i, None)
            if text is not None:
                entry[STORED_TEXT] = text
            entries.append((i, entry))
        return room.header(state), entries

    def save_sync(self, room, header: dict, entries: list) -> None:
        """Store a save now, without a loop (a room put to sleep outside one: unit tests)."""
        self.store.save_sync(header, entries)
        self._of(room).cursor += len(entries) if room.script is None else 0

    async def settle(self, room, header: dict, entries: list) -> None:
        """Store the save of a room gone to sleep; raises if the store failed."""
        async with self.lock(room):
            marks = self._of(room)
            # A persist that ran since the room went to sleep may have written some already.
            entries = [(i, e) for i, e in entries if i >= marks.cursor]
            await self.store.save(header, entries)
            if room.script is None:
                marks.cursor += len(entries)

    async def persist(self, room) -> None:
        """Write the room's header and every command-log entry not yet in the store. Returns
        once everything applied before the call is stored.

        Concurrent persists of one room share commits: the first writes while the others wait
        for the room's lock; the next one to get it writes everything applied meanwhile, and
        the rest, finding that save stored, return at once. A producer with five requests in
        flight per broker used to wait for one commit per request, one after another (each a
        few milliseconds), however few entries each held."""
        marks = self._of(room)
        # Read before anything is awaited: every save whose snapshot is taken after this has
        # everything applied before the call (commands are applied before their persist).
        began = marks.taken
        async with self.lock(room):
            if marks.stored > began:
                return  # stored by a save taken after this call began
            header, entries = self.unsaved(room)
            save = asyncio.ensure_future(self._save(header, entries,
                                                    self._saved(room, header, entries)))
            try:
                await asyncio.shield(save)
            except asyncio.CancelledError:
                # The caller went away (its socket closed), the save did not: the room's lock
                # is held until it ends, so no other save of this room starts from a count of
                # written entries that is about to change.
                await asyncio.wait([save])
                raise

    def _saved(self, room, header: dict, entries: list):
        """What a stored save means for the room: its entries are written (counted here, by
        the saver, so a caller cancelled meanwhile cannot lose the count) and its clock is
        where the store has it. Made right after the `unsaved` that took the save, so the
        save's number is the room's latest."""
        marks = self._of(room)
        number = marks.taken

        def done() -> None:
            if room.script is None:
                marks.cursor += len(entries)
            marks.checkpoint = (header["now_ms"], header["seq"])
            marks.checkpoint_s = self.clock()
            marks.stored = max(marks.stored, number)
        return done

    async def checkpoint(self, rooms, hold, resave_s: float) -> None:
        """Save every room of `rooms` whose clock moved, in ONE store call (one transaction,
        one hop to the database thread): twenty busy rooms used to mean twenty commits every
        few seconds, each one a place in the queue that a viewer's command waited behind.
        `hold(room_id)`: whether this process may write the room (its lease); an unchanged
        room is saved again once `resave_s` passed since its last save."""
        due = []
        try:
            for room in rooms:
                # An unchanged room is still saved now and then: its row's `updated` is what
                # old-room cleanup goes by, in every process, and a paused room watched for
                # longer than keep_s (awake here, so unknown to another process's sweep)
                # would otherwise be deleted under its viewers.
                marks = self._of(room)
                if (marks.checkpoint == (room.cluster.now_ms, room.cluster.seq)
                        and self.clock() - marks.checkpoint_s < resave_s):
                    continue
                try:
                    if not await hold(room.id):
                        continue
                except Exception:
                    log.exception("room %s: checkpoint failed", room.id)
                    continue
                lock = self.lock(room)
                if lock.locked():
                    continue  # a persist of its own is under way: it saves the header too
                await lock.acquire()  # free: checked just above, nothing awaited since
                due.append(room)
            if not due:
                return
            batch = [self.unsaved(room) for room in due]
            saves = [asyncio.ensure_future(self._save(h, e, self._saved(room, h, e)))
                     for room, (h, e) in zip(due, batch, strict=True)]
            # Failures are logged by the store, and those rooms are tried again next time.
            await asyncio.wait(saves)
            for save in saves:
                save.exception()  # retrieved
        finally:
            for room in due:
                self.lock(room).release()

    async def _save(self, header: dict, entries: list, on_saved=None) -> None:
        """Store one room's save, committed together with whatever other saves are waiting
        (group commit): while one transaction is written the next ones queue, and then go as
        one. Twenty students joining at once (a speed, a play, a producer each) made sixty
        commits in a row on the one database thread, and the teacher's command waited behind
        them. Raises if this room's save failed."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((header, entries, future, on_saved))
        if self._saver is None or self._saver.done():
            self._saver = asyncio.get_running_loop().create_task(self._save_queued())
        await future

    async def _save_queued(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                saved = await self.store.save_many([(h, e) for h, e, _, _ in batch])
            except Exception as e:
                saved = [e] * len(batch)
            for (header, _, future, on_saved), ok in zip(batch, saved, strict=True):
                if ok is True and on_saved is not None:
                    on_saved()
                if future.done():
                    continue  # its caller was cancelled
                if ok is True:
                    future.set_result(None)
                else:
                    future.set_exception(ok if isinstance(ok, Exception) else RuntimeError(
                        f"room {header['room_id']}: the store could not save it"))
