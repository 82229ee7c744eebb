"""/healthz: the database (reads, writes, room to grow), Redis and the event loop's lag.

The database checks run in a thread of their own; these tests use a fresh one each (and a fresh
probe), so a connection set up by one test (a read-only one) never serves another.
"""

import asyncio
import concurrent.futures
import threading
import time

import pytest
from django.db.backends.signals import connection_created
from django.test import AsyncClient

from playground import health
from tests.conftest import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_probe(monkeypatch):
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    monkeypatch.setattr(health, "_db_executor", executor)
    monkeypatch.setattr(health, "_db_probe", health.DatabaseProbe())
    monkeypatch.setattr(health, "_db_running", None)
    monkeypatch.setattr(health, "_db_last", None)
    # Every test sees the database as it is now: the one-second memory of the last check
    # has its own test.
    monkeypatch.setattr(health, "DB_FRESH_S", 0.0)
    yield
    executor.shutdown(wait=True)


@pytest.fixture
def probe_connections():
    """Run `pragma` on every database connection opened from now on (the probe's)."""
    from django.db import connection

    # The test database is one in-memory database in shared-cache mode: its size limit is
    # shared by every connection to it, and is put back for the tests that follow.
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA max_page_count")
        max_page_count = cursor.fetchone()[0]
    pragmas = []

    def setup(sender, connection, **kwargs):
        for pragma in pragmas:
            connection.connection.execute(pragma)

    connection_created.connect(setup)
    try:
        yield pragmas
    finally:
        connection_created.disconnect(setup)
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA max_page_count = {max_page_count}")


async def get_health():
    response = await AsyncClient().get("/healthz")
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return response.status_code, response.json()


async def test_a_healthy_server_reports_each_check_and_200():
    status, body = await get_health()
    assert status == 200, body
    assert body["ok"] is True
    assert set(body["checks"]) == {"database", "redis", "event_loop"}
    for check in body["checks"].values():
        assert check["ok"] is True and check["detail"]
    assert "reads and writes" in body["checks"]["database"]["detail"]
    assert "not used" in body["checks"]["redis"]["detail"]


async def test_a_read_only_database_is_503(probe_connections):
    # SQLite's own read-only mode: reads work, every write is refused.
    probe_connections.append("PRAGMA query_only = ON")
    status, body = await get_health()
    assert status == 503
    database = body["checks"]["database"]
    assert database["ok"] is False
    assert "cannot write" in database["detail"] and "readonly" in database["detail"]
    assert body["ok"] is False and body["checks"]["event_loop"]["ok"] is True


@pytest.fixture
def probe_row():
    """The probe's row, as any server that answered one probe has it. Made here, in the test's
    own thread: a connection asgiref's shared thread kept would outlive the test."""
    from playground.models import HealthProbe

    HealthProbe.objects.create(pk=health.HEALTH_ROW_ID, checked_at=0.0)


async def test_a_full_database_is_503_even_though_overwriting_one_row_still_works(
        probe_row, probe_connections, settings):
    # A database at its size limit refuses anything that needs a new page; the probe's own
    # one-row update needs none, so the room left to grow is what tells.
    settings.PLAYGROUND_HEALTH_DB_FREE_MIN_MB = 16
    probe_connections.append("PRAGMA max_page_count = 1")  # clamped to the current size
    status, body = await get_health()
    assert status == 503
    detail = body["checks"]["database"]["detail"]
    assert "full" in detail and "PLAYGROUND_HEALTH_DB_FREE_MIN_MB=16" in detail


def test_the_write_probe_runs_at_most_every_few_seconds_and_the_read_every_time():
    now = [0.0]
    probe = health.DatabaseProbe(write_every_s=5.0, clock=lambda: now[0])
    writes = []
    real_write = probe._write
    probe._write = lambda connection: writes.append(1) or real_write(connection)
    for t in (0.0, 1.0, 4.9, 5.0, 6.0, 10.1):
        now[0] = t
        assert probe.check()["ok"], probe.check()
    assert len(writes) == 3  # at 0, 5.0 and 10.1


async def test_a_stuck_database_is_503_within_the_timeout_and_the_loop_keeps_serving(
        monkeypatch):
    release = threading.Event()
    calls = []

    class StuckProbe:
        def check(self):
            calls.append(1)
            release.wait(30)  # a lock nobody releases (bounded, so the test cannot hang)
            return {"ok": True, "detail": "late"}

    monkeypatch.setattr(health, "_db_probe", StuckProbe())
    monkeypatch.setattr(health, "DB_TIMEOUT_S", 0.3)
    try:
        started = time.monotonic()
        first = asyncio.ensure_future(get_health())
        second = asyncio.ensure_future(get_health())
        # The loop goes on meanwhile: the lag monitor wakes on time.
        lag_s = await asyncio.wait_for(health.watch_loop().next_sample(), 5)
        assert lag_s < 0.3
        for status, body in await asyncio.gather(first, second):
            assert status == 503
            assert body["checks"]["database"] == {
                "ok": False, "detail": "the database did not answer within 0.3 s"}
        assert time.monotonic() - started < 3
        assert calls == [1]  # the second request joined the stuck check, no new thread
    finally:
        release.set()


async def test_unreachable_redis_is_503_within_half_a_second(settings):
    settings.PLAYGROUND_REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens
    started = time.monotonic()
    status, body = await get_health()
    assert time.monotonic() - started < 2
    assert status == 503
    redis_check = body["checks"]["redis"]
    assert redis_check["ok"] is False and redis_check["detail"].startswith("unreachable")


async def test_a_blackholed_redis_times_out_after_half_a_second(settings):
    # A server that accepts the connection and never answers.
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        settings.PLAYGROUND_REDIS_URL = f"redis://127.0.0.1:{server.getsockname()[1]}/0"
        started = time.monotonic()
        status, body = await get_health()
        elapsed = time.monotonic() - started
    assert status == 503 and body["checks"]["redis"]["ok"] is False
    assert elapsed < health.REDIS_TIMEOUT_S + 1.0


async def test_reachable_redis_is_ok(settings, redis_url):
    settings.PLAYGROUND_REDIS_URL = redis_url
    status, body = await get_health()
    assert status == 200, body
    assert body["checks"]["redis"]["detail"].startswith("PONG in ")


async def test_a_stalled_event_loop_is_503_for_a_while(settings):
    settings.PLAYGROUND_HEALTH_LOOP_LAG_MS = 150
    monitor = health.watch_loop()
    await asyncio.wait_for(monitor.next_sample(), 5)
    time.sleep(0.4)  # the stall under test: a synchronous call holding the loop
    lag_s = await asyncio.wait_for(monitor.next_sample(), 5)
    assert lag_s >= 0.25  # the stall less the 100 ms the monitor meant to sleep anyway
    status, body = await get_health()
    assert status == 503
    event_loop = body["checks"]["event_loop"]
    assert event_loop["ok"] is False
    assert "PLAYGROUND_HEALTH_LOOP_LAG_MS=150" in event_loop["detail"]


def test_the_lag_monitor_keeps_the_worst_of_its_window_only():
    monitor = health.LoopLagMonitor(interval_s=0.1, window_s=10.0)
    monitor._record(100.0, 0.8)
    monitor._record(105.0, 0.01)
    assert monitor.worst_s(now=105.0) == pytest.approx(0.8)
    monitor._record(111.0, 0.02)  # the stall at 100 s has left the window
    assert monitor.worst_s(now=111.0) == pytest.approx(0.02)
    assert [at for at, _ in monitor.samples] == [105.0, 111.0]
    monitor.due = 110.0  # a wake-up overdue by 1.5 s right now counts as well
    assert monitor.worst_s(now=111.5) == pytest.approx(1.5)


async def test_the_asgi_app_starts_the_lag_monitor_on_its_loop():
    from channels.testing import HttpCommunicator

    from playground.asgi import application

    loop = asyncio.get_running_loop()
    assert loop not in health._monitors or not health._monitors[loop].running()
    communicator = HttpCommunicator(application, "GET", "/healthz",
                                    headers=[(b"host", b"localhost")])
    response = await communicator.get_response(timeout=10)
    assert response["status"] == 200
    assert health._monitors[loop].running()


@pytest.mark.django_db(transaction=True)
async def test_probes_within_a_second_share_one_database_check(monkeypatch):
    """A busy probe (or many load balancers) costs one database check a second; /healthz
    answers the rest at once, without a thread hop."""
    monkeypatch.setattr(health, "DB_FRESH_S", 1.0)
    checks = []
    real = health._db_probe.check
    monkeypatch.setattr(health._db_probe, "check", lambda: checks.append(1) or real())
    for _ in range(5):
        assert (await health.check_database())["ok"]
    assert len(checks) == 1
