"""The listener on its own (`manage.py kafka_listener`) and the web app in another process
(Daphne, `runserver_kafka --no-kafka`), sharing a real Redis and one database: browsers at the
web app's /r/live see and drive the room the listener runs, as issue 6 asks.

The room runs in the listener's process (its lease in Redis names it); the web app forwards the
page's calls there and its relay receives the room's frames over the channel layer.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import websockets

from tests.conftest import ROOT, free_port, stop_process
from tests.kafka.conftest import free_ports


def _start(argv, env, log):
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "manage.py", *argv], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def _wait(ready, proc, log, what, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what} not ready:\n{log.read_text()}")
        time.sleep(0.2)


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _page(url: str) -> str | None:
    try:
        return urllib.request.urlopen(url, timeout=3).read().decode()
    except OSError:
        return None


@pytest.fixture
def two_processes(tmp_path, redis_url):
    http_port, kafka_port = free_port(), free_ports(3)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "playground.settings", "DJANGO_DEBUG": "1",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "REDIS_URL": redis_url,
           "PLAYGROUND_KAFKA_PORT": str(kafka_port), "PYTHONUNBUFFERED": "1"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    listener_log, web_log = tmp_path / "listener.log", tmp_path / "web.log"
    listener = _start(["kafka_listener"], env, listener_log)
    web = _start(["runserver_kafka", "--no-kafka", "--noreload", f"127.0.0.1:{http_port}"], env,
                 web_log)
    try:
        _wait(lambda: _port_open(kafka_port), listener, listener_log, "kafka_listener")
        _wait(lambda: _page(f"http://127.0.0.1:{http_port}/healthz"), web, web_log, "Daphne")
        yield {"http": http_port, "kafka": kafka_port, "logs": (listener_log, web_log)}
    finally:
        stop_process(web)
        stop_process(listener)


async def _snapshot(ws) -> dict:
    while True:
        message = json.loads(await ws.recv())
        if message["type"] == "snapshot":
            return message


def test_the_web_app_shows_and_drives_the_room_the_listener_runs(two_processes):
    from kafka import KafkaProducer

    http, kafka_port = two_processes["http"], two_processes["kafka"]
    page = _page(f"http://127.0.0.1:{http}/r/live")
    assert page is not None and "Live: real Kafka clients" in page, two_processes["logs"]

    producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{kafka_port}", acks="all")
    assert producer.send("seen-across", key=b"k", value=b"first").get(10).offset == 0

    async def browser():
        url = f"ws://127.0.0.1:{http}/ws/rooms/live/"
        async with websockets.connect(url, origin=f"http://127.0.0.1:{http}") as ws:
            async with asyncio.timeout(20):
                state = (await _snapshot(ws))["state"]
                assert state["topics"]["seen-across"]["partitions"][0]["high_watermark"] == 1
                # A record produced now reaches this viewer in a frame, over Redis.
                await asyncio.to_thread(
                    lambda: producer.send("seen-across", value=b"second").get(10))
                while True:
                    message = json.loads(await ws.recv())
                    if message["type"] == "frame" and any(
                            e["type"] == "record.produced" and e.get("offset") == 1
                            for e in message["events"]):
                        break
                # The page drives it too: stopping broker 2 closes its port in the listener.
                await ws.send(json.dumps({"type": "command", "request_id": "stop", "command": {
                    "type": "broker.stop", "broker": 2, "mode": "clean"}}))
                while True:
                    message = json.loads(await ws.recv())
                    if message.get("request_id") == "stop":
                        assert message["type"] == "ack", message
                        break

    asyncio.run(browser())
    deadline = time.monotonic() + 10
    while _port_open(kafka_port + 1):
        assert time.monotonic() < deadline, "broker 2's port is still open"
        time.sleep(0.1)
    assert _port_open(kafka_port)
    producer.close(2)
