"""Fan-out of room frames to many WebSocket viewers through one real Daphne process.

Starts Daphne (playground.asgi, in-memory channel layer) on a free port, opens ROOMS rooms from
the built-in `signup` scenario, and turns each into a steady source: the scenario's own
producer is removed and a producer on a new one-partition topic sends RATE records a second of
virtual time (each makes record.produced and record.acked, so 2 x RATE events a second), at 1x
speed. VIEWERS real WebSocket clients (the `websockets` library) watch each room for DURATION
seconds. Every frame carries `wall_ms`, the server's wall clock when the room produced its
events; a viewer's latency for each event is its receive time minus that (client and server
share this machine's clock). Printed: frames and events delivered per second, event latency
p50/p99/max, sequence gaps seen (must be 0), the server's RSS, and RSS across CYCLES
connect/snapshot/disconnect cycles (it must stay flat).

The server gets a throwaway SQLite database, migrated and with the built-in scenarios loaded
(as `make run` does), and environment overrides that lift the per-address limits: every room
and socket here comes from 127.0.0.1, which the defaults (sized for a classroom) would refuse.
Each room is driven by its presenter: the viewer that sends its commands carries the session
cookie of the GET /s/signup that created the room (the presenter rule, playground/presenter.py).

Goal (rooms issue): 50 rooms x 10 viewers, 1,000 events/s in all, p99 under 250 ms.

Run: .venv/bin/python bench/ws_fanout.py [--rooms 50] [--viewers 10] [--rate 10]
     [--duration 20] [--cycles 1000]
"""

import argparse
import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used (utime, stime in /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_env(rooms: int, viewers: int, workdir: str) -> dict:
    """The server's environment: its own database, and limits lifted for one client address."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "playground.settings",
           "DJANGO_SECRET_KEY": "bench-only-" + "x" * 40,
           "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3",
           "PLAYGROUND_MAX_ROOMS": str(rooms + 10), "PYTHONUNBUFFERED": "1",
           # Every room is created from this one address, at once: no creation limit.
           "PLAYGROUND_ROOM_CREATE_BURST": str(rooms + 100),
           "PLAYGROUND_ROOM_CREATE_PER_MIN": "100000",
           "PLAYGROUND_ROOMS_PER_ADDRESS": str(rooms + 100),
           # rooms x viewers sockets, plus the connect/disconnect cycles' (10 at a time, and
           # a closed socket may still count for a moment).
           "PLAYGROUND_WS_PER_ADDRESS": str(rooms * viewers + 200)}
    env.pop("REDIS_URL", None)
    return env


def prepare_database(env: dict) -> None:
    """Migrate the throwaway database and load the built-in scenarios (as `make run` does):
    /s/signup opens the library's scenario, and a fresh database has none."""
    for command in (["migrate", "--noinput"], ["load_scenarios"]):
        done = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(command)} failed:\n{done.stderr}")


def start_daphne(port: int, rooms: int, viewers: int, workdir: str) -> subprocess.Popen:
    env = server_env(rooms, viewers, workdir)
    prepare_database(env)
    daphne = Path(sys.executable).parent / "daphne"
    log = open(f"{workdir}/daphne.log", "wb")
    profile = os.environ.get("BENCH_PROFILE")  # a file: run the server under cProfile
    prefix = [sys.executable, "-m", "cProfile", "-o", profile] if profile else []
    proc = subprocess.Popen([*prefix, str(daphne), "-b", "127.0.0.1", "-p", str(port),
                             "playground.asgi:application"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("daphne did not start: " + open(f"{workdir}/daphne.log").read())


def open_room(port: int) -> tuple[str, str]:
    """A new room from the signup scenario: (room id, the Cookie header of its presenter).

    The session that GETs /s/<slug> presents the room it creates; only a socket carrying that
    session's cookie may send it commands and controls."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/s/signup")
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 302:
        raise RuntimeError(f"GET /s/signup answered {response.status}: {body[:300]!r}")
    cookie = "; ".join(value.split(";", 1)[0] for name, value in response.getheaders()
                       if name.lower() == "set-cookie")
    if not cookie:
        raise RuntimeError("GET /s/signup set no session cookie: no one could present the room")
    return response.getheader("Location").removeprefix("/r/").split("?")[0], cookie


class Viewer:
    def __init__(self):
        self.frames = 0
        self.events = 0
        self.gaps = 0
        self.latencies_ms: list[float] = []
        self.last_to_seq = None


async def watch(uri: str, origin: str, viewer: Viewer, clock: dict, ready,
                driver: list | None = None, cookie: str | None = None):
    """One viewer: snapshot, then frames until cancelled. Counts only while clock["on"].
    The driver (the room's presenter: `cookie` is its session) sends `driver` first."""
    from websockets.asyncio.client import connect

    headers = {"Cookie": cookie} if cookie else None
    async with connect(uri, origin=origin, max_size=2 ** 22, additional_headers=headers) as ws:
        snapshot = json.loads(await ws.recv())
        viewer.last_to_seq = snapshot["seq"]
        for i, message in enumerate(driver or []):
            await ws.send(json.dumps({**message, "request_id": f"d{i}"}))
        ready.release()
        async for text in ws:
            received_ms = time.time() * 1000
            message = json.loads(text)
            kind = message["type"]
            if kind == "error":
                raise RuntimeError(f"server refused a bench message: {message}")
            if kind != "frame":
                continue
            if message["from_seq"] != viewer.last_to_seq + 1:
                viewer.gaps += 1
            viewer.last_to_seq = message["to_seq"]
            if not clock["on"]:
                continue
            count = len(message["events"]) + sum(a["count"] for a in message["aggregates"])
            viewer.frames += 1
            viewer.events += count
            viewer.latencies_ms.extend([received_ms - message["wall_ms"]] * count)


async def cycles(uri_of, origin: str, n: int, parallel: int = 10) -> None:
    from websockets.asyncio.client import connect

    async def one(i):
        async with connect(uri_of(i), origin=origin) as ws:
            assert json.loads(await ws.recv())["type"] == "snapshot"

    for start in range(0, n, parallel):
        await asyncio.gather(*(one(i) for i in range(start, min(n, start + parallel))))


async def all_ready(tasks: list, ready: asyncio.Semaphore, timeout_s: float) -> None:
    """Wait until every viewer has its snapshot (and the drivers sent their commands); a viewer
    that fails meanwhile (refused, closed) ends the wait with its error, not a timeout."""
    deadline = time.monotonic() + timeout_s
    for _ in tasks:
        acquire = asyncio.ensure_future(ready.acquire())
        while not acquire.done():
            left = deadline - time.monotonic()
            if left <= 0:
                acquire.cancel()
                raise TimeoutError(f"viewers not ready within {timeout_s:g} s")
            await asyncio.wait([acquire], timeout=min(left, 0.5))
            failed = [t for t in tasks if t.done() and t.exception() is not None]
            if failed:
                acquire.cancel()
                raise failed[0].exception()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def run(args, port: int, pid: int) -> None:
    origin = f"http://127.0.0.1:{port}"
    rss_start = rss_kib(pid)
    opened = [open_room(port) for _ in range(args.rooms)]
    room_ids = [room_id for room_id, _ in opened]
    driver = [
        {"type": "command", "command": {"type": "producer.remove", "id": "signup-form"}},
        {"type": "command", "command": {"type": "topic.create", "name": "bench",
                                        "partitions": 1, "replication_factor": 1}},
        {"type": "command", "command": {"type": "producer.add", "id": "bench",
                                        "topic": "bench", "rate_per_s": args.rate,
                                        "acks": "1"}},
        {"type": "control", "action": "play"},
    ]
    clock = {"on": False}
    ready = asyncio.Semaphore(0)
    viewers = []
    tasks = []
    for room_id, cookie in opened:
        for v in range(args.viewers):
            viewer = Viewer()
            viewers.append(viewer)
            tasks.append(asyncio.create_task(watch(
                f"ws://127.0.0.1:{port}/ws/rooms/{room_id}/", origin, viewer, clock, ready,
                driver if v == 0 else None, cookie if v == 0 else None)))
    await all_ready(tasks, ready, 60)
    await asyncio.sleep(args.warmup)
    clock["on"] = True
    started = time.monotonic()
    cpu_before, load_before = cpu_s(pid), os.getloadavg()[0]
    await asyncio.sleep(args.duration)
    elapsed = time.monotonic() - started
    server_cpu = (cpu_s(pid) - cpu_before) / elapsed
    load = (load_before + os.getloadavg()[0]) / 2
    clock["on"] = False
    rss_running = rss_kib(pid)
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    failures = [r for r in results if not isinstance(r, asyncio.CancelledError)]
    if failures:
        raise failures[0]

    latencies = [x for v in viewers for x in v.latencies_ms]
    frames = sum(v.frames for v in viewers)
    events = sum(v.events for v in viewers)
    gaps = sum(v.gaps for v in viewers)
    room_events = events / args.viewers  # every viewer of a room sees the same events
    print(f"rooms x viewers            {args.rooms} x {args.viewers} "
          f"({len(viewers)} WebSocket connections), measured for {elapsed:.1f} s")
    print(f"events produced in all     {room_events / elapsed:,.0f} /s")
    print(f"frames delivered           {frames / elapsed:,.0f} /s to all viewers")
    print(f"events delivered           {events / elapsed:,.0f} /s to all viewers")
    print(f"sequence gaps seen         {gaps}")
    if latencies:
        print(f"event latency (emit->recv) p50 {percentile(latencies, 0.5):.1f} ms, "
              f"p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms")
        p99 = percentile(latencies, 0.99)
        print(f"goal                       p99 under 250 ms at 50 x 10: "
              f"{'met' if p99 < 250 else 'NOT met'} (p99 {p99:.1f} ms at "
              f"{args.rooms} x {args.viewers})")
    else:
        print("goal                       NOT met: no events were delivered")
    print(f"server CPU                 {server_cpu:.0%} of one core "
          f"(machine load average {load:.1f} on {os.cpu_count()} cores)")
    print(f"server RSS                 {rss_start / 1024:.1f} MiB at start, "
          f"{rss_running / 1024:.1f} MiB with {args.rooms} rooms and "
          f"{len(viewers)} viewers")

    uri_of = lambda i: f"ws://127.0.0.1:{port}/ws/rooms/{room_ids[i % len(room_ids)]}/"  # noqa: E731
    warm = min(200, args.cycles)
    await cycles(uri_of, origin, warm)  # let allocator pools and caches settle first
    before = rss_kib(pid)
    marks = []
    done = 0
    step = max(1, args.cycles // 4)
    while done < args.cycles:
        part = min(step, args.cycles - done)
        await cycles(uri_of, origin, part)
        done += part
        marks.append(f"{rss_kib(pid) / 1024:.1f} MiB after {done}")
    print(f"RSS over {args.cycles} connect/disconnect cycles: {before / 1024:.1f} MiB before "
          f"(after {warm} warm-up cycles), " + ", ".join(marks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--viewers", type=int, default=10)
    parser.add_argument("--rate", type=float, default=10,
                        help="records a second per room (each makes 2 events)")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--cycles", type=int, default=1000)
    args = parser.parse_args()
    print("command: " + " ".join([".venv/bin/python", "bench/ws_fanout.py", *sys.argv[1:]]))
    with tempfile.TemporaryDirectory() as workdir:
        port = free_port()
        proc = start_daphne(port, args.rooms, args.viewers, workdir)
        try:
            asyncio.run(asyncio.wait_for(run(args, port, proc.pid),
                                         args.duration + args.warmup + 240))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
