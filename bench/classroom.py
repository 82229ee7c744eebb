"""A classroom on one server: does one room, or one Kafka client, stall everyone else?

Starts ONE server process as `make run` does (`manage.py runserver_kafka HOST:PORT`, with
`--noreload` so that it stays one process, and the Kafka listener on free ports), on a throwaway
migrated SQLite database with the built-in scenarios loaded, the default limits (change them
with --env NAME=VALUE), all on loopback. Then, for --seconds:

- the teacher's room (/s/amazon-orders, playing at 1x) is watched by 50 WebSockets, one of them
  the presenter (it carries the session cookie of the GET /s/amazon-orders that created the
  room), which sends a `produce` command every second and times its ack;
- 20 student rooms (/s/signup, each student with its own session cookie) each at 100,000x with
  a 1,000/s producer (control speed 100000, play, producer.add rate_per_s 1000);
- one more room, playing with a 20/s producer, whose presenter sends "+24 h" (control jump
  ms=86400000): timed until the room's clock reaches the goal (frames' clock.goal_ms is null
  again and now_ms has passed it);
- one raw TCP client pipelining Kafka ApiVersions v0 requests to the listener (written without
  waiting for answers, answers read by another task);
- GET /healthz every 100 ms, and the server's memory (/proc/PID/status VmHWM) every 200 ms,
  from the moment the server is up (the teacher's room opening included).

The students, the "+24 h" room and the Kafka client run in a second process (this script with
--role load), so that the measuring process's own event loop is not what delays a frame.

Printed: p50/p99 of the presenter's command acks, of /healthz, of frame latency in the
teacher's room (receive time - the frame's wall_ms, the server's wall clock when the room
produced it; client and server share this machine's clock), the worst event-loop stall (the
slowest /healthz, and the loop lag /healthz reports), the server's peak memory, the time the
"+24 h" took, each beside its goal (issue 11, on a 2-core machine):

    /healthz p99 < 250 ms and worst < 500 ms; frame latency p99 < 250 ms;
    acks p99 < 250 ms; peak memory < 1 GB; "+24 h" finished within 30 s.

It is a bench, not a test: it exits 0 whether the goals are met or not.

Run: .venv/bin/python bench/classroom.py [--seconds 40] [--viewers 50] [--students 20]
     [--student-speed 100000] [--student-rate 1000] [--jump-rate 20] [--jump-at 5]
     [--env NAME=VALUE ...]
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import free_ports  # noqa: E402  (consecutive ports: one per broker)

HOST = "127.0.0.1"
KAFKA_BROKERS = 3  # the listener's `live` room: broker b listens on PORT + b - 1
HARD_STOP_S = 120  # the whole run, setup included, never takes longer than this
DAY_MS = 86_400_000
GOALS = {"healthz_p99": 250, "healthz_worst": 500, "frame_p99": 250, "ack_p99": 250,
         "memory_mib": 1024, "jump_s": 30}
# The frame's head, as playground/rooms/frames.py writes it: type, seqs, clock, wall_ms, then
# the (possibly 192 KiB of) events. The bench reads only the head.
FRAME_PREFIX = b'{"type":"frame",'
WALL_MS = re.compile(rb',"wall_ms":(-?\d+|null)')


# -- small clients ----------------------------------------------------------------------------


async def http_get(port: int, path: str, cookie: str | None = None,
                   timeout_s: float = 30) -> tuple[int, dict, list[str], bytes]:
    """(status, headers by lower-case name, Set-Cookie name=value pairs, body) of one GET, on
    its own connection, without blocking the event loop."""
    async def go():
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close"]
            if cookie:
                lines.append(f"Cookie: {cookie}")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            raw = await reader.read()
        finally:
            writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers, cookies = {}, []
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
            if name.strip().lower() == "set-cookie":
                cookies.append(value.strip().split(";", 1)[0])
        return int(status_line.split()[1]), headers, cookies, body

    return await asyncio.wait_for(go(), timeout_s)


async def open_room(port: int, slug: str) -> tuple[str, str]:
    """A new room from scenario `slug`, opened as a fresh browser would: (room id, the Cookie
    header of the session that presents it)."""
    status, headers, cookies, body = await http_get(port, f"/s/{slug}")
    if status != 302:
        raise RuntimeError(f"GET /s/{slug} answered {status}: {body[:300]!r}")
    if not cookies:
        raise RuntimeError(f"GET /s/{slug} set no session cookie: no one could present it")
    return headers["location"].removeprefix("/r/").split("?")[0], "; ".join(cookies)


def frame_head(data: bytes) -> dict | None:
    """The head of a frame (type, from_seq, to_seq, clock, wall_ms) without parsing its events,
    or None for any other message."""
    if not data.startswith(FRAME_PREFIX):
        return None
    match = WALL_MS.search(data, 0, 4096)
    if match is None:
        return json.loads(data)  # a layout this bench does not know: read it all
    return json.loads(data[:match.end()] + b"}")


class Socket:
    """One room WebSocket: keeps the sequence, resyncs after a gap, answers request ids."""

    def __init__(self, port: int, room_id: str, cookie: str | None = None, on_frame=None):
        self.uri = f"ws://{HOST}:{port}/ws/rooms/{room_id}/"
        self.origin = f"http://{HOST}:{port}"
        self.cookie = cookie
        self.on_frame = on_frame
        self.ws = None
        self.last_to_seq = None
        self.clock: dict = {}
        self.snapshots = 0
        self.gaps = 0
        self.frames = 0
        self.bytes = 0
        self.errors: list[dict] = []
        self.pending: dict[str, asyncio.Future] = {}
        self.you: dict | None = None
        self.ready = asyncio.Event()
        self.closed: str | None = None
        self._n = 0

    async def run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        headers = {"Cookie": self.cookie} if self.cookie else None
        try:
            async with connect(self.uri, origin=self.origin, max_size=64 * 2 ** 20,
                               additional_headers=headers, open_timeout=30,
                               ping_interval=None) as ws:
                self.ws = ws
                while True:
                    data = await ws.recv(decode=False)
                    self._receive(data)
        except ConnectionClosed as e:
            self.closed = f"closed by the server: {e}"
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError(self.closed or "socket ended"))
            self.ready.set()

    def _receive(self, data: bytes) -> None:
        received_ms = time.time() * 1000
        self.bytes += len(data)
        head = frame_head(data)
        if head is not None:
            self.frames += 1
            self.clock = head.get("clock") or self.clock
            if self.last_to_seq is not None and head["from_seq"] != self.last_to_seq + 1:
                self.gaps += 1
                self.last_to_seq = None
                asyncio.ensure_future(self.ws.send('{"type":"resync"}'))
                return
            if self.last_to_seq is not None:
                self.last_to_seq = head["to_seq"]
            if self.on_frame is not None and head.get("wall_ms") is not None:
                self.on_frame(self, head, received_ms - head["wall_ms"])
            return
        message = json.loads(data)
        kind = message.get("type")
        if kind == "snapshot":
            self.snapshots += 1
            self.last_to_seq = message["seq"]
            self.clock = message["room"]["clock"]
        elif kind == "you":
            self.you = message
            self.ready.set()
        elif kind in ("ack", "error"):
            future = self.pending.pop(message.get("request_id"), None)
            if kind == "error":
                self.errors.append(message)
            if future is not None and not future.done():
                future.set_result(message)

    async def request(self, message: dict, timeout_s: float = 30) -> tuple[dict, float]:
        """Send one message with a fresh request id; (its ack or error, seconds it took)."""
        self._n += 1
        request_id = f"b{self._n}"
        future = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        started = time.perf_counter()
        await self.ws.send(json.dumps({**message, "request_id": request_id}))
        reply = await asyncio.wait_for(future, timeout_s)
        return reply, time.perf_counter() - started

    async def must(self, message: dict, what: str) -> float:
        reply, took = await self.request(message)
        if reply["type"] != "ack":
            raise RuntimeError(f"{what} refused: {reply}")
        return took


async def start_socket(sock: Socket, timeout_s: float = 30) -> asyncio.Task:
    task = asyncio.create_task(sock.run())
    await asyncio.wait_for(sock.ready.wait(), timeout_s)
    if sock.you is None:
        raise RuntimeError(f"{sock.uri}: no snapshot ({sock.closed}; errors {sock.errors})")
    return task


def command(cmd: dict) -> dict:
    return {"type": "command", "command": cmd}


def control(action: str, **fields) -> dict:
    return {"type": "control", "action": action, **fields}


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


# -- the load process: students, "+24 h", the Kafka client -----------------------------------


async def student(port: int, args, out: dict) -> None:
    room_id, cookie = await open_room(port, "signup")
    sock = Socket(port, room_id, cookie)
    out["tasks"].append(await start_socket(sock))
    out["sockets"].append(sock)
    if not sock.you.get("may_control"):
        raise RuntimeError(f"student room {room_id}: its own presenter may not control it")
    await sock.must(control("speed", speed=args.student_speed), "speed")
    await sock.must(control("play"), "play")
    await sock.must(command({"type": "producer.add", "id": "bench", "topic": "signup",
                             "rate_per_s": args.student_rate}), "producer.add")


async def jump_room(port: int, args, out: dict, started: float) -> None:
    result = out["jump"]
    room_id, cookie = await open_room(port, "signup")
    sock = Socket(port, room_id, cookie)
    out["tasks"].append(await start_socket(sock))
    out["sockets"].append(sock)
    await sock.must(control("play"), "play")
    await sock.must(command({"type": "producer.add", "id": "bench", "topic": "signup",
                             "rate_per_s": args.jump_rate}), "producer.add")
    await asyncio.sleep(max(0.0, started + args.jump_at - time.monotonic()))
    from_ms = sock.clock["now_ms"]
    goal = from_ms + DAY_MS
    result.update(from_ms=from_ms, goal_ms=goal)
    t0 = time.monotonic()
    result["ack_s"] = await sock.must(control("jump", ms=DAY_MS), "jump")
    reached = asyncio.Event()

    def on_frame(_, head, __):
        clock = head.get("clock") or {}
        result["now_ms"] = clock.get("now_ms", result.get("now_ms"))
        result["server_goal_ms"] = clock.get("goal_ms", result.get("server_goal_ms"))
        result["frames"] = result.get("frames", 0) + 1
        if clock.get("goal_ms") is None and clock.get("now_ms", 0) >= goal:
            reached.set()

    sock.on_frame = on_frame
    await reached.wait()
    result["took_s"] = time.monotonic() - t0


async def kafka_pipeliner(port: int, out: dict, stop: asyncio.Event) -> None:
    """ApiVersions v0 requests written back to back; answers counted by another task."""
    result = out["kafka"]
    reader, writer = await asyncio.open_connection(HOST, port)
    batch = b"".join(struct.pack(">ihhih", 10, 18, 0, i, -1) for i in range(100))

    async def write():
        while not stop.is_set():
            writer.write(batch)
            result["sent"] += 100
            await writer.drain()

    async def read():
        while True:
            size = struct.unpack(">i", await reader.readexactly(4))[0]
            await reader.readexactly(size)
            result["answered"] += 1

    tasks = [asyncio.create_task(write()), asyncio.create_task(read())]
    stopping = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopping and task.exception() is not None:
                result["ended"] = f"{type(task.exception()).__name__}: {task.exception()}"
    finally:
        for task in [*tasks, stopping]:
            task.cancel()
        writer.close()


async def load(args) -> dict:
    started = time.monotonic()
    out = {"tasks": [], "sockets": [], "jump": {}, "kafka": {"sent": 0, "answered": 0},
           "errors": []}
    stop = asyncio.Event()
    jobs = [asyncio.create_task(student(args.port, args, out)) for _ in range(args.students)]
    jump = asyncio.create_task(jump_room(args.port, args, out, started) if args.jump
                               else asyncio.sleep(0))
    kafka = asyncio.gather(*(kafka_pipeliner(args.kafka_port, out, stop)
                             for _ in range(args.kafka_clients)))
    deadline = started + args.seconds
    if jobs:
        await asyncio.wait(jobs, timeout=max(0.0, deadline - time.monotonic()))
    students_ready = sum(1 for j in jobs if j.done() and j.exception() is None)
    await asyncio.wait([jump], timeout=max(0.0, deadline - time.monotonic()))
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))  # the load runs its whole time
    stop.set()
    kafka_s = time.monotonic() - started
    for task in [*jobs, jump, kafka, *out["tasks"]]:
        if not task.done():
            task.cancel()
    await asyncio.gather(*jobs, jump, kafka, *out["tasks"], return_exceptions=True)
    for task in [*jobs, jump]:
        if not task.cancelled() and task.exception() is not None:
            out["errors"].append(f"{type(task.exception()).__name__}: {task.exception()}")
    socks = out["sockets"][:-1] if "goal_ms" in out["jump"] else out["sockets"]
    return {"students_ready": students_ready, "students": args.students,
            "student_bytes": sum(s.bytes for s in socks),
            "student_frames": sum(s.frames for s in socks),
            "student_gaps": sum(s.gaps for s in out["sockets"]),
            "refusals": [e for s in out["sockets"] for e in s.errors][:5],
            "closed": [s.closed for s in out["sockets"] if s.closed][:5],
            "jump": out["jump"], "kafka": {**out["kafka"], "seconds": kafka_s},
            "errors": out["errors"][:5], "seconds": time.monotonic() - started}


# -- the measuring process --------------------------------------------------------------------


def memory_kib(pid: int) -> dict:
    found = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                found[name] = int(value.split()[0])
    return found


def lag_figures(node) -> list[float]:
    """Every loop-lag figure in /healthz's JSON: numbers under a key naming lag, and the
    'worst lag N ms' of a check's detail."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            name = key.lower()
            if "lag" in name and "limit" not in name and "max" not in name \
                    and isinstance(value, (int, float)) and not isinstance(value, bool):
                found.append(float(value) * (1000 if key.lower().endswith("_s") else 1))
            else:
                found.extend(lag_figures(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(lag_figures(value))
    elif isinstance(node, str):
        found.extend(float(m) for m in re.findall(r"lag (\d+(?:\.\d+)?) ms", node))
    return found


async def poll_healthz(port: int, stats: dict, stop: asyncio.Event) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            status, _, _, body = await http_get(port, "/healthz", timeout_s=30)
            stats["healthz_ms"].append((time.perf_counter() - t0) * 1000)
            stats["healthz_status"][status] = stats["healthz_status"].get(status, 0) + 1
            try:
                stats["loop_lag_ms"].extend(lag_figures(json.loads(body)))
            except ValueError:
                pass
        except (OSError, TimeoutError) as e:
            stats["healthz_ms"].append((time.perf_counter() - t0) * 1000)
            stats["healthz_status"][type(e).__name__] = \
                stats["healthz_status"].get(type(e).__name__, 0) + 1
        try:
            await asyncio.wait_for(stop.wait(), max(0.0, 0.1 - (time.perf_counter() - t0)))
        except TimeoutError:
            pass


async def poll_memory(pid: int, stats: dict, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            kib = memory_kib(pid)
        except OSError:
            return
        stats["peak_kib"] = max(stats["peak_kib"], kib.get("VmHWM", 0), kib.get("VmRSS", 0))
        try:
            await asyncio.wait_for(stop.wait(), 0.2)
        except TimeoutError:
            pass


async def teacher(port: int, args, stats: dict, stop: asyncio.Event) -> list[Socket]:
    """The teacher's room: 50 sockets (the first is the presenter's), frame latency on all."""
    room_id, cookie = await open_room(port, "amazon-orders")
    stats["teacher_room"] = room_id

    def on_frame(sock, _, latency_ms):
        if stats["measuring"]:
            stats["frame_ms"].append(latency_ms)
            if sock is socks[0]:
                stats["presenter_frame_ms"].append(latency_ms)

    socks = [Socket(port, room_id, cookie if i == 0 else None, on_frame)
             for i in range(args.viewers)]
    tasks = []
    for i in range(0, len(socks), 10):  # a class arrives within a second or two, not at once
        tasks += await asyncio.gather(*(start_socket(s) for s in socks[i:i + 10]))
    stats["socket_tasks"] = tasks
    presenter = socks[0]
    if not presenter.you.get("presenter"):
        raise RuntimeError("the teacher's socket is not the room's presenter: the session "
                           f"cookie did not carry over ({presenter.you})")
    await presenter.must(control("play"), "play")
    return socks


async def presenter_commands(presenter: Socket, stats: dict, stop: asyncio.Event) -> None:
    n = 0

    async def one(n):
        try:
            reply, took = await presenter.request(command(
                {"type": "produce", "topic": "order-placed", "key": f"order-{1000 + n}",
                 "value": f'{{"orderId": "order-{1000 + n}", "event": "bench"}}'}), 60)
        except (TimeoutError, ConnectionError) as e:
            stats["ack_lost"].append(f"{type(e).__name__}: {e}")
            return
        if reply["type"] == "ack":
            stats["ack_ms"].append(took * 1000)
        else:
            stats["ack_refused"].append(reply)

    pending = []
    while not stop.is_set():
        n += 1
        pending.append(asyncio.create_task(one(n)))
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass
    # Acks still owed at the end are waited for a little: a late ack is a figure, not a loss.
    done, late = await asyncio.wait(pending, timeout=10) if pending else (set(), set())
    for task in late:
        task.cancel()
        stats["ack_lost"].append("no ack within 10 s after the run")


def start_server(port: int, kafka_port: int, workdir: str, extra_env: dict,
                 deadline: float) -> tuple:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "playground.settings",
           # As `make run` does (DJANGO_DEBUG ?= 1); its own database, so a run starts clean.
           "DJANGO_DEBUG": "1", "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3",
           "PLAYGROUND_KAFKA_HOST": HOST, "PLAYGROUND_KAFKA_PORT": str(kafka_port),
           "PYTHONUNBUFFERED": "1", **extra_env}
    env.pop("REDIS_URL", None)
    for cmd in (["migrate", "--noinput"], ["load_scenarios"]):
        done = subprocess.run([sys.executable, "manage.py", *cmd], cwd=ROOT, env=env,
                              capture_output=True, text=True,
                              timeout=max(1.0, deadline - time.monotonic()))
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(cmd)} failed:\n{done.stderr}")
    log = open(f"{workdir}/server.log", "wb")
    # --noreload: Django's autoreloader would run the server in a child process, and the
    # memory measured here must be the server's own.
    cmd = [sys.executable, "manage.py", "runserver_kafka", "--noreload", f"{HOST}:{port}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server ended: " + open(f"{workdir}/server.log").read())
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
            socket.create_connection((HOST, kafka_port), timeout=0.2).close()
            return proc, " ".join(["manage.py", *cmd[2:]])
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start: " + open(f"{workdir}/server.log").read())


async def measure(args, port: int, kafka_port: int, pid: int, stats: dict) -> None:
    stop = asyncio.Event()
    pollers = [asyncio.create_task(poll_healthz(port, stats, stop)),
               asyncio.create_task(poll_memory(pid, stats, stop))]
    socks = await teacher(port, args, stats, stop)
    stats["teacher_sockets"] = socks
    stats["measuring"] = True
    worker = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--role", "load", "--port", str(port),
        "--kafka-port", str(kafka_port), "--seconds", str(args.seconds),
        "--students", str(args.students), "--student-speed", str(args.student_speed),
        "--student-rate", str(args.student_rate), "--jump-rate", str(args.jump_rate),
        "--jump-at", str(args.jump_at), "--kafka-clients", str(args.kafka_clients),
        *([] if args.jump else ["--no-jump"]), cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    stats["worker_pid"] = worker.pid
    commands = asyncio.create_task(presenter_commands(socks[0], stats, stop))
    started = time.monotonic()
    output, _ = await asyncio.wait_for(worker.communicate(), args.seconds + 30)
    stats["measured_s"] = time.monotonic() - started
    stop.set()
    stats["measuring"] = False
    await commands
    await asyncio.gather(*pollers)
    for task in stats["socket_tasks"]:
        task.cancel()
    await asyncio.gather(*stats["socket_tasks"], return_exceptions=True)
    lines = output.decode().strip().splitlines()
    stats["load"] = json.loads(lines[-1]) if lines else {"errors": ["the load process died"]}


def show(stats: dict, args, server_cmd: str) -> None:
    def fig(values, unit="ms"):
        if not values:
            return "no samples"
        return (f"p50 {percentile(values, 0.5):,.1f} {unit}, p99 {percentile(values, 0.99):,.1f}"
                f" {unit}, max {max(values):,.1f} {unit} ({len(values):,} samples)")

    def goal(ok: bool | None, text: str) -> str:
        mark = "n/a" if ok is None else ("met" if ok else "NOT met")
        return f"    goal {text}: {mark}"

    def under(value, limit):
        return None if value is None else value < limit

    load = stats.get("load", {})
    socks = stats.get("teacher_sockets", [])
    print(f"measured for {stats.get('measured_s', 0):.1f} s; machine load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"teacher's room /r/{stats.get('teacher_room')} (amazon-orders, 1x): "
          f"{len(socks)} sockets, {sum(s.frames for s in socks):,} frames, "
          f"{sum(s.gaps for s in socks)} sequence gaps, "
          f"{sum(max(0, s.snapshots - 1) for s in socks)} resyncs")
    print(f"students: {load.get('students_ready', 0)} of {load.get('students', args.students)} "
          f"rooms set up (speed {args.student_speed:g}x, producer {args.student_rate:g}/s); "
          f"they received {load.get('student_frames', 0):,} frames, "
          f"{load.get('student_bytes', 0) / 2 ** 20:,.1f} MiB, "
          f"{load.get('student_gaps', 0)} sequence gaps")
    kafka = load.get("kafka", {})
    if kafka:
        print(f"Kafka clients ({args.kafka_clients}): {kafka.get('sent', 0):,} ApiVersions "
              "requests pipelined, "
              f"{kafka.get('answered', 0):,} answered "
              f"({kafka.get('answered', 0) / max(kafka.get('seconds', 1), 1e-9):,.0f}/s)"
              + (f"; {kafka['ended']}" if kafka.get("ended") else ""))
    for what in ("errors", "refusals", "closed"):
        if load.get(what):
            print(f"load {what}: {load[what]}")
    print()
    if stats.get("failed"):
        print(f"PARTIAL RUN (ended by {stats['failed']}): the goals below judge only what was "
              "measured before it")
    acks = stats["ack_ms"]
    print(f"presenter's command acks   {fig(acks)}"
          + (f"; {len(stats['ack_refused'])} refused" if stats["ack_refused"] else "")
          + (f"; {len(stats['ack_lost'])} lost" if stats["ack_lost"] else ""))
    print(goal(under(percentile(acks, 0.99), GOALS["ack_p99"]) and not stats["ack_lost"]
               if acks else False, f"p99 < {GOALS['ack_p99']} ms"))
    health = stats["healthz_ms"]
    codes = ", ".join(f"{k}: {v}" for k, v in sorted(stats["healthz_status"].items(),
                                                     key=lambda kv: str(kv[0])))
    print(f"/healthz (every 100 ms)    {fig(health)}; answers {codes}")
    print(goal(under(percentile(health, 0.99), GOALS["healthz_p99"]),
               f"p99 < {GOALS['healthz_p99']} ms"))
    print(goal(under(max(health, default=None), GOALS["healthz_worst"]),
               f"worst < {GOALS['healthz_worst']} ms"))
    frames = stats["frame_ms"]
    print(f"teacher's room frames      {fig(frames)} (receive - wall_ms, all {len(socks)} "
          f"sockets); the presenter's own: p99 "
          + (f"{percentile(stats['presenter_frame_ms'], 0.99):,.1f} ms"
             if stats["presenter_frame_ms"] else "none"))
    print(goal(under(percentile(frames, 0.99), GOALS["frame_p99"]),
               f"p99 < {GOALS['frame_p99']} ms"))
    lag = stats["loop_lag_ms"]
    print(f"worst event-loop stall     slowest /healthz {max(health, default=0):,.0f} ms; "
          + (f"loop lag /healthz reported: worst {max(lag):,.0f} ms" if lag
             else "/healthz reports no loop-lag figure"))
    peak = stats["peak_kib"] / 1024
    print(f"server peak memory         {peak:,.1f} MiB (VmHWM)")
    print(goal(under(peak, GOALS["memory_mib"]) if peak else None,
               f"< {GOALS['memory_mib']:,} MiB"))
    jump = load.get("jump", {})
    if "took_s" in jump:
        text = f"{jump['took_s']:.1f} s (ack in {jump['ack_s'] * 1000:,.0f} ms)"
    elif "goal_ms" in jump:
        done = (jump.get("now_ms", jump["from_ms"]) - jump["from_ms"]) / DAY_MS
        text = (f"not finished by the end of the run ({done:.0%} of the day; "
                f"{jump.get('frames', 0)} frames since the jump's ack)")
    else:
        text = "not started"
    print(f'"+24 h" ({args.jump_rate:g}/s producer) {text}')
    print(goal(under(jump.get("took_s", float("inf")), GOALS["jump_s"])
               if "goal_ms" in jump else None,
               f"within {GOALS['jump_s']} s"))
    print()
    print(f"server: {server_cmd} (one process, pid {stats.get('pid')})")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40, help="how long the load runs")
    parser.add_argument("--viewers", type=int, default=50, help="sockets on the teacher's room")
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--student-speed", type=float, default=100_000)
    parser.add_argument("--student-rate", type=float, default=1_000)
    parser.add_argument("--jump-rate", type=float, default=20)
    parser.add_argument("--jump-at", type=float, default=5,
                        help="seconds into the load when the '+24 h' is sent")
    parser.add_argument("--kafka-clients", type=int, default=1,
                        help="raw TCP clients pipelining ApiVersions (0: none)")
    parser.add_argument("--no-jump", dest="jump", action="store_false",
                        help='leave out the "+24 h" room (to see what the rest costs)')
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the server (e.g. a limit)")
    parser.add_argument("--role", choices=["measure", "load"], default="measure",
                        help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--kafka-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= HARD_STOP_S - 40:
        parser.error(f"--seconds must be between 1 and {HARD_STOP_S - 40}, not {args.seconds:g}")
    return args


def main() -> None:
    args = parse_args()
    if args.role == "load":
        print(json.dumps(asyncio.run(load(args))), flush=True)
        return
    begun = time.monotonic()
    extra_env = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            sys.exit(f"--env must be NAME=VALUE, not {item!r}")
        extra_env[name] = value
    reproduce = " ".join([".venv/bin/python", "bench/classroom.py", *sys.argv[1:]])
    print(f"command: {reproduce}")
    stats = {"healthz_ms": [], "healthz_status": {}, "loop_lag_ms": [], "frame_ms": [],
             "presenter_frame_ms": [], "ack_ms": [], "ack_refused": [], "ack_lost": [],
             "peak_kib": 0, "measuring": False, "socket_tasks": []}
    workdir = tempfile.mkdtemp(prefix="classroom-bench-")
    proc = None
    server_cmd = "(not started)"
    try:
        port, kafka_port = free_ports(1), free_ports(KAFKA_BROKERS)
        # Setup may take at most half the hard stop; the rest is the run's.
        proc, server_cmd = start_server(port, kafka_port, workdir, extra_env,
                                        begun + HARD_STOP_S / 2)
        stats["pid"] = proc.pid
        left = HARD_STOP_S - (time.monotonic() - begun) - 10
        try:
            asyncio.run(asyncio.wait_for(measure(args, port, kafka_port, proc.pid, stats), left))
        except TimeoutError:
            print(f"hard stop: the run passed {HARD_STOP_S} s; figures so far:")
            stats["failed"] = "the hard stop"
        except Exception as e:  # a bench reports what broke and what it measured until then
            print(f"the run failed: {type(e).__name__}: {e}")
            stats["failed"] = f"{type(e).__name__}"
        show(stats, args, server_cmd)
    finally:
        if stats.get("worker_pid"):
            try:  # the load process, if a hard stop left it running (ours, by its pid)
                os.kill(stats["worker_pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
