"""What /healthz checks: the database, Redis and the serving event loop's lag.

Each check answers ``{"ok": bool, "detail": str}``; the page is 503 when any is not ok, so a
load balancer or orchestrator takes a server out of rotation when it cannot store an
acknowledged command, reach the rooms' Redis, or answer in time.

Nothing here blocks the event loop it is asked from: the database is queried in a thread of
its own and waited for with a timeout, Redis is pinged with a short timeout, and the lag is
measured by a task that merely sleeps.
"""

import asyncio
import concurrent.futures
import os
import threading
import time
from collections import deque

from django.conf import settings

# The lag monitor sleeps this long, again and again, and records how late it wakes: a stall of
# the loop (a long synchronous call in any task) shows as a late wake-up. 100 ms costs nothing
# and catches any stall that matters to a person waiting for a frame or an ack.
LAG_INTERVAL_S = 0.1
# /healthz reports the worst lag over this window: a stall that just ended still counts for a
# while, so a probe that happens to arrive between two stalls does not see a healthy server.
LAG_WINDOW_S = 10.0
# How long /healthz waits for the database check. A database that takes longer is unhealthy
# for every page too (SQLite waits up to 5 s for a lock before it gives up).
DB_TIMEOUT_S = 2.0
# Redis answers a PING in well under a millisecond on a healthy network; half a second is
# already far outside anything a page could live with, and /healthz must stay fast.
REDIS_TIMEOUT_S = 0.5
# A cheap read runs on every check; the write (which is what a read-only or full database
# refuses) runs at most this often and its answer is reused in between, so a probe every
# second costs one tiny committed write per WRITE_PROBE_EVERY_S, not one per request.
WRITE_PROBE_EVERY_S = 5.0
# Where the write probe writes: one row of playground.models.HealthProbe, overwritten.
HEALTH_ROW_ID = 1


def _free_min_bytes() -> int:
    # Below this much room to grow, a SQLite database is "full": room saves (a few KB each)
    # would start failing soon, and a probe that only overwrites one row would not notice.
    return settings.PLAYGROUND_HEALTH_DB_FREE_MIN_MB * 1024 * 1024


def _ok(detail: str) -> dict:
    return {"ok": True, "detail": detail}


def _failed(detail: str) -> dict:
    return {"ok": False, "detail": detail}


def _describe(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


# -- event-loop lag --------------------------------------------------------------------------


class LoopLagMonitor:
    """Sleeps `interval_s` over and over on one loop and keeps how late each wake-up was."""

    def __init__(self, interval_s: float = LAG_INTERVAL_S, window_s: float = LAG_WINDOW_S):
        self.interval_s = interval_s
        self.window_s = window_s
        self.samples: deque[tuple[float, float]] = deque()  # (loop time, lag in s)
        self.due: float | None = None  # when the pending wake-up should happen
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task | None = None
        self._waiters: list[asyncio.Future] = []

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = self.loop.create_task(self._run(), name="healthz-loop-lag")

    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.due = loop.time() + self.interval_s
            await asyncio.sleep(self.interval_s)
            now = loop.time()
            self._record(now, max(0.0, now - self.due))

    def _record(self, now: float, lag_s: float) -> None:
        self.samples.append((now, lag_s))
        while self.samples and self.samples[0][0] < now - self.window_s:
            self.samples.popleft()
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(lag_s)

    async def next_sample(self) -> float:
        """The lag of the next wake-up (tests await a measurement instead of sleeping)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return await waiter

    def worst_s(self, now: float | None = None) -> float:
        """The worst lag in the window, counting a wake-up that is overdue right now."""
        if now is None:
            now = self.loop.time() if self.loop is not None else 0.0
        worst = max((lag for at, lag in self.samples if at >= now - self.window_s), default=0.0)
        if self.due is not None:
            worst = max(worst, now - self.due)
        return worst

    def check(self, limit_ms: float) -> dict:
        if not self.samples:
            return _ok(f"measuring (every {self.interval_s * 1000:g} ms; no wake-up yet)")
        worst_ms = self.worst_s() * 1000
        detail = (f"worst lag {worst_ms:.0f} ms over the last {self.window_s:g} s "
                  f"(PLAYGROUND_HEALTH_LOOP_LAG_MS={limit_ms:g})")
        result = _ok(detail) if worst_ms <= limit_ms else _failed(detail)
        return {**result, "worst_lag_ms": round(worst_ms, 1)}  # for scripts and graphs


_monitors: dict[asyncio.AbstractEventLoop, LoopLagMonitor] = {}
_monitors_lock = threading.Lock()


def watch_loop() -> LoopLagMonitor:
    """The lag monitor of the running loop, started on first use. Called by the ASGI app on
    every connection (so lag is measured from the first request on, not from the first probe)
    and by /healthz. Cheap: a dictionary lookup once it runs."""
    loop = asyncio.get_running_loop()
    monitor = _monitors.get(loop)
    if monitor is not None and monitor.running():
        return monitor
    with _monitors_lock:
        # Loops that are gone (each sync test request runs one of its own) take theirs along.
        for old in [old for old in _monitors if old.is_closed()]:
            del _monitors[old]
        monitor = LoopLagMonitor()
        monitor.start()
        _monitors[loop] = monitor
    return monitor


# -- the database -----------------------------------------------------------------------------


class DatabaseProbe:
    """The database check, run in a thread: a cheap read every time, a committed one-row write
    at most every `write_every_s` (cached in between), and for SQLite the room left to grow.

    Why a real write and not just a read: a read-only database (a read-only mount or file, a
    replica, Postgres's default_transaction_read_only) answers reads perfectly well, and only a
    write tells. A write per request would be too costly on a busy probe, hence the cache: a
    database that turns read-only is reported within `write_every_s`. Why also the room to grow
    for SQLite: overwriting one row needs no new space, so a full disk (or a database at its
    max_page_count) lets the probe succeed while the rooms' saves fail.
    """

    def __init__(self, alias: str = "default", write_every_s: float = WRITE_PROBE_EVERY_S,
                 clock=time.monotonic):
        self.alias = alias
        self.write_every_s = write_every_s
        self.clock = clock
        self.written_at: float | None = None
        self.written: dict | None = None

    def check(self) -> dict:
        from django.db import connections

        connection = connections[self.alias]
        try:
            with connection.cursor() as cursor:
                # A real table, so the file is opened and read (SELECT 1 would not touch it)
                # and an unmigrated database shows.
                cursor.execute("SELECT 1 FROM django_migrations LIMIT 1")
            if self.written_at is None or self.clock() - self.written_at >= self.write_every_s:
                self.written = self._write(connection)
                self.written_at = self.clock()
            if not self.written["ok"]:
                return self.written
            if connection.vendor == "sqlite":
                return self._room_to_grow(connection)
            return _ok(f"{connection.vendor}: reads and writes")
        except Exception as e:
            return _failed(f"{connection.vendor}: {_describe(e)}")
        finally:
            # A fresh connection next time, as every page gets (CONN_MAX_AGE 0): a database
            # that went away is seen as such, not through a stale handle.
            connection.close()

    def _write(self, connection) -> dict:
        from django.db import transaction

        from playground.models import HealthProbe

        try:
            with transaction.atomic(using=self.alias):
                rows = HealthProbe.objects.using(self.alias)
                if not rows.filter(pk=HEALTH_ROW_ID).update(checked_at=time.time()):
                    rows.create(pk=HEALTH_ROW_ID, checked_at=time.time())
        except Exception as e:
            return _failed(f"{connection.vendor}: cannot write: {_describe(e)}")
        return _ok("writable")

    def _room_to_grow(self, connection) -> dict:
        with connection.cursor() as cursor:
            pragmas = {}
            for name in ("page_size", "page_count", "max_page_count", "freelist_count"):
                cursor.execute(f"PRAGMA {name}")
                pragmas[name] = cursor.fetchone()[0]
        pages_left = (pragmas["max_page_count"] - pragmas["page_count"]
                      + pragmas["freelist_count"])
        room = pages_left * pragmas["page_size"]
        where = "the database's max_page_count"
        if not connection.is_in_memory_db():
            path = os.path.dirname(os.path.abspath(str(connection.settings_dict["NAME"])))
            fs = os.statvfs(path)
            if fs.f_flag & os.ST_RDONLY:
                return _failed(f"sqlite: {path} is on a read-only file system")
            if fs.f_bavail * fs.f_frsize < room:
                room, where = fs.f_bavail * fs.f_frsize, f"the file system of {path}"
        minimum = _free_min_bytes()
        detail = f"sqlite: {room / 1024 / 1024:,.1f} MB left to grow ({where})"
        if room < minimum:
            return _failed(f"{detail}; under PLAYGROUND_HEALTH_DB_FREE_MIN_MB="
                           f"{minimum // 1024 // 1024}: the database is (nearly) full")
        return _ok(f"{detail}; reads and writes")


# One thread for every database check: a check stuck on a lock or a dead server holds it, and
# later probes wait for that same check (with their own timeout) instead of piling up threads.
_db_executor = concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                                     thread_name_prefix="healthz-db")
_db_probe = DatabaseProbe()
_db_running: concurrent.futures.Future | None = None
_db_lock = threading.Lock()


def _database_future() -> concurrent.futures.Future:
    global _db_running
    with _db_lock:
        if _db_running is None or _db_running.done():
            probe = _db_probe
            _db_running = _db_executor.submit(probe.check)
        return _db_running


# A database check this recent answers the next probe: a probe per 100 ms (or fifty load
# balancers) costs one check a second, and /healthz itself never waits on a thread that must
# win the interpreter lock from a busy loop several times to open, query and close a database.
DB_FRESH_S = 1.0
_db_last: tuple[float, dict] | None = None


async def check_database(timeout_s: float | None = None) -> dict:
    global _db_last
    timeout_s = DB_TIMEOUT_S if timeout_s is None else timeout_s
    if _db_last is not None and time.monotonic() - _db_last[0] < DB_FRESH_S:
        return _db_last[1]
    future = _database_future()
    try:
        # shield: a timed-out probe finishes in its thread; the next request joins it.
        result = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)),
                                        timeout_s)
        _db_last = (time.monotonic(), result)
        return result
    except TimeoutError:
        return _failed(f"the database did not answer within {timeout_s:g} s")


# -- Redis ------------------------------------------------------------------------------------


async def check_redis(url: str | None, timeout_s: float = REDIS_TIMEOUT_S) -> dict:
    if not url:
        return _ok("not used (REDIS_URL is not set: rooms and sockets stay in this process)")
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    # A client per check: it lives on the loop that asks, and a Redis that restarted is met
    # with a fresh connection. No retries: the answer is wanted within `timeout_s`, and a
    # loopback connect costs well under a millisecond. (The URL's password is never shown.)
    client = aioredis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s,
                               retry=Retry(NoBackoff(), 0))
    started = time.perf_counter()
    try:
        await asyncio.wait_for(client.ping(), timeout_s)
        return _ok(f"PONG in {(time.perf_counter() - started) * 1000:.1f} ms")
    except TimeoutError:
        return _failed(f"unreachable: no answer to PING within {timeout_s:g} s")
    except Exception as e:
        return _failed(f"unreachable: {_describe(e)}")
    finally:
        try:
            await asyncio.wait_for(client.aclose(), timeout_s)
        except Exception:
            pass  # closing a connection that never opened: nothing to release


# -- the whole report -------------------------------------------------------------------------


async def report() -> dict:
    """{"ok": all checks ok, "checks": {name: {"ok", "detail"}}}."""
    monitor = watch_loop()
    database, redis = await asyncio.gather(check_database(),
                                           check_redis(settings.PLAYGROUND_REDIS_URL))
    checks = {"database": database, "redis": redis,
              "event_loop": monitor.check(settings.PLAYGROUND_HEALTH_LOOP_LAG_MS)}
    return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}
