"""Issue 5 over real servers: a SIGKILLed Daphne's successor on the same database brings a
live room back to the same state; a second browser session cannot drive a presenter's room
until it is opened. Real Daphne subprocesses, a real WebSocket client, a file SQLite database."""

import asyncio
import hashlib
import http.client
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import ROOT, _wait_until, free_port, stop_process


def start_daphne(workdir: Path, env: dict, name: str) -> tuple[subprocess.Popen, str]:
    daphne = Path(sys.executable).parent / "daphne"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(daphne), "-b", "127.0.0.1", "-p", str(port),
                                 "playground.asgi:application"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def healthy() -> bool:
        try:
            return get(base, "/healthz")[0] == 200
        except OSError:
            return False

    _wait_until(healthy, proc, log, "daphne", timeout_s=30)
    return proc, base


def get(base: str, path: str, cookie: str | None = None) -> tuple[int, dict, str]:
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    return response.status, dict(response.getheaders()), body


async def receive(ws, kind: str, **match) -> dict:
    """The next message of type `kind` (with the given fields), passing over the others."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 15))
        if message["type"] == kind and all(message.get(k) == v for k, v in match.items()):
            return message


async def ask(ws, message: dict) -> dict:
    await ws.send(json.dumps(message))
    while True:
        reply = json.loads(await asyncio.wait_for(ws.recv(), 15))
        if reply.get("request_id") == message["request_id"]:
            return reply


def state_digest(snapshot: dict) -> str:
    return hashlib.sha256(json.dumps(snapshot["state"], sort_keys=True).encode()).hexdigest()


def open_room(base: str) -> tuple[str, str]:
    status, headers, _ = get(base, "/s/signup")
    assert status == 302
    return headers["Location"].removeprefix("/r/"), headers["Set-Cookie"].split(";")[0]


async def test_a_killed_server_brings_a_live_room_back_by_replay(tmp_path):
    from websockets.asyncio.client import connect

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "playground.settings",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "PYTHONUNBUFFERED": "1"}
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    proc, base = start_daphne(tmp_path, env, "first")
    try:
        room_id, cookie = open_room(base)
        uri = f"ws://{urlsplit(base).netloc}/ws/rooms/{room_id}/"
        async with connect(uri, origin=base, additional_headers={"Cookie": cookie}) as ws:
            await receive(ws, "snapshot")
            commands = [
                {"type": "command", "request_id": "c1", "command": {
                    "type": "produce", "topic": "signup", "key": "user-1", "value": "a"}},
                {"type": "control", "request_id": "k1", "action": "step", "ms": 1_500},
                {"type": "command", "request_id": "c2", "command": {
                    "type": "consumer.add", "group": "audit", "topics": ["signup"]}},
                {"type": "control", "request_id": "k2", "action": "jump", "ms": 20_000},
            ]
            for message in commands:
                assert (await ask(ws, message))["type"] == "ack"
            while (await receive(ws, "frame"))["clock"]["goal_ms"] is not None:
                pass  # the jump plays out
            for message in ({"type": "command", "request_id": "c3", "command": {
                                "type": "topic.create", "name": "audit-log",
                                "partitions": 3}},
                            {"type": "control", "request_id": "k3", "action": "pause"}):
                assert (await ask(ws, message))["type"] == "ack"
            await ws.send(json.dumps({"type": "resync"}))
            before = await receive(ws, "snapshot")
        assert before["room"]["clock"]["now_ms"] == 21_500
    finally:
        proc.kill()  # SIGKILL: no shutdown hook, nothing flushed on the way out
        proc.wait()

    proc, base = start_daphne(tmp_path, env, "second")
    try:
        status, _, page = get(base, f"/r/{room_id}", cookie)
        assert status == 200 and room_id in page
        uri = f"ws://{urlsplit(base).netloc}/ws/rooms/{room_id}/"
        async with connect(uri, origin=base, additional_headers={"Cookie": cookie}) as ws:
            after = await receive(ws, "snapshot")
            you = await receive(ws, "you")
        assert after["seq"] == before["seq"]
        assert state_digest(after) == state_digest(before)
        assert after["room"]["clock"]["now_ms"] == 21_500
        assert you["presenter"] is True  # the presenter survives the restart too
    finally:
        stop_process(proc)


async def test_a_second_session_is_refused_until_the_presenter_opens_the_room(daphne_url):
    from websockets.asyncio.client import connect

    room_id, cookie = open_room(daphne_url)
    uri = f"ws://{urlsplit(daphne_url).netloc}/ws/rooms/{room_id}/"
    produce = {"type": "command", "request_id": "x", "command": {
        "type": "produce", "topic": "signup", "value": "from the back row"}}
    async with connect(uri, origin=daphne_url, additional_headers={"Cookie": cookie}) as mine, \
            connect(uri, origin=daphne_url) as theirs:
        await receive(mine, "snapshot")
        await receive(theirs, "snapshot")
        assert await receive(theirs, "you") == {"type": "you", "presenter": False,
                                                "open": False, "may_control": False,
                                                "mode": "live"}
        assert await ask(theirs, produce) == {
            "type": "error", "request_id": "x", "field": "type",
            "message": "only the presenter drives this room; fork it to try things yourself"}
        assert (await ask(mine, {"type": "room", "request_id": "o", "action": "open"}))[
            "type"] == "ack"
        assert await receive(theirs, "room") == {"type": "room", "open": True}
        assert (await ask(theirs, produce))["type"] == "ack"
        # Anyone may fork: the copy is theirs to drive.
        forked = await ask(theirs, {"type": "fork", "request_id": "f"})
        assert forked["type"] == "forked" and forked["url"] == f"/r/{forked['room']}"
        assert get(daphne_url, forked["url"])[0] == 200
