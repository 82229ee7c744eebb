"""`make run`'s command starts the wire listener inside Daphne: a real client's records are in
the room browsers open at /r/live, in the same process."""

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request

import websockets

from tests.conftest import ROOT, free_port, stop_process
from tests.kafka.conftest import free_ports


def test_runserver_kafka_serves_the_live_room_to_browsers_and_kafka_clients(tmp_path):
    from kafka import KafkaProducer

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
                page = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/r/live",
                                              timeout=2).read().decode()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(log.read_text()) from None
                time.sleep(0.2)
        assert "Live: real Kafka clients" in page
        producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{kafka_port}", acks="all")
        assert producer.send("from-a-client", b"hello").get(10).offset == 0
        producer.close(2)

        async def snapshot():
            url = f"ws://127.0.0.1:{http_port}/ws/rooms/live/"
            async with websockets.connect(url, origin=f"http://127.0.0.1:{http_port}") as ws:
                async with asyncio.timeout(10):
                    while True:
                        message = json.loads(await ws.recv())
                        if message["type"] == "snapshot":
                            return message

        state = asyncio.run(snapshot())["state"]
        assert state["topics"]["from-a-client"]["partitions"][0]["high_watermark"] == 1
    finally:
        stop_process(proc)
