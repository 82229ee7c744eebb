"""A real Kafka wire listener for the wire tests: its own event loop in a thread, its room in
this process, three brokers on free consecutive ports. Clients (kafka-python, aiokafka,
confluent-kafka) connect to it over TCP exactly as they would to Kafka."""

import asyncio
import threading

import pytest
from channels.layers import InMemoryChannelLayer

from playground.kafka.server import LIVE_SPEC, Listener
from playground.rooms.registry import Rooms
from tests.conftest import free_ports  # noqa: F401  (wire tests import it from here too)


class Live:
    """The listener running in a background thread; `call` runs code on its loop."""

    def __init__(self, spec: dict | None = None, brokers: int = 3, rooms: Rooms | None = None,
                 **listener_kwargs):
        self.spec = spec or LIVE_SPEC
        self.port = free_ports(brokers)
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.bootstrap_all = ",".join(f"127.0.0.1:{self.port + i}" for i in range(brokers))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        # In memory unless given (bench/wire_requests.py gives the listener's own kind).
        self.rooms = rooms or Rooms(max_rooms=5, idle_s=3600, layer=InMemoryChannelLayer())
        self.listener = Listener(self.rooms, port=self.port, spec=self.spec, **listener_kwargs)
        self.run(self.listener.start())

    def run(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn, *args, timeout: float = 10):
        async def wrapper():
            return fn(*args)
        return self.run(wrapper(), timeout)

    @property
    def room(self):
        return self.listener.room

    def apply(self, command: dict) -> list[dict]:
        return self.call(self.listener.room.apply, command)

    def snapshot(self) -> dict:
        return self.call(self.listener.room.cluster.snapshot)

    def close(self) -> None:
        async def stop_all():
            await self.listener.close()
            # The registry's tick and sweep tasks, and anything else still on this loop.
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.run(stop_all())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


@pytest.fixture
def live():
    server = Live()
    yield server
    server.close()


def rf3_spec(min_isr: int = 2) -> dict:
    return {**LIVE_SPEC, "topics": [{"name": "safe", "partitions": 1, "replication_factor": 3,
                                     "config": {"min.insync.replicas": min_isr}}]}


@pytest.fixture
def web_with_listener(tmp_path):
    """`manage.py runserver_kafka` (what `make run` starts) as a real process on free ports,
    its own migrated database: (http_port, first kafka port). Browser tests use it too."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.conftest import ROOT, free_port, stop_process

    http_port, kafka_port = free_port(), free_ports(3)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "playground.settings", "DJANGO_DEBUG": "1",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "PLAYGROUND_KAFKA_PORT": str(kafka_port), "PYTHONUNBUFFERED": "1"}
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "manage.py", "runserver_kafka", "--noreload",
                                 f"127.0.0.1:{http_port}"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{http_port}/r/live", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(log.read_text()) from None
                time.sleep(0.2)
        yield http_port, kafka_port
    finally:
        stop_process(proc)
