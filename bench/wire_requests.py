"""What one Produce request costs the wire listener, beside what asyncio alone costs for it.

A client's batch costs the listener a fixed amount per request (reading and decoding it, the
room's command, its save, the answer) plus an amount per record. Past a producer's queue its
requests are smaller (it sends what its linger gathered), so the fixed part is what decides
whether it slows down there (bench/wire_throughput.py, "past the queue").

The listener runs in this process on its own event loop thread, its room stored in a throwaway
SQLite database on the database's own thread, as `manage.py kafka_listener` runs it; the
figure is the loop thread's CPU time, so the database's own work is not in it. A socket
client in the main thread sends prebuilt Produce v9 requests (one partition, `R` records of 100
bytes, acks=all, to an RF 1 topic), `--pipeline` at a time, and reads the answers. The
baseline, in the same process: a bare asyncio server on a loop thread of its own that reads each
frame and answers it with a fixed frame (the least any asyncio listener could do). Measured:
the CPU time of each server's loop thread per request (not the client's), in alternating runs;
the medians and their ratio are printed.

    .venv/bin/python bench/wire_requests.py [--records 1,20,200] [--requests 2000] [--runs 3]
"""

import argparse
import asyncio
import os
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup_django() -> None:
    workdir = tempfile.mkdtemp(prefix="wire-requests-")
    os.environ.update({"DJANGO_SETTINGS_MODULE": "playground.settings", "DJANGO_DEBUG": "0",
                       "DJANGO_SECRET_KEY": "wire-requests-bench-only-" + "x" * 40,
                       "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3"})
    os.environ.pop("REDIS_URL", None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def produce_frames(records: int, count: int = 100) -> list[bytes]:
    from kafka.protocol.producer import ProduceRequest
    from kafka.record.default_records import DefaultRecordBatchBuilder

    frames = []
    for cid in range(count):
        builder = DefaultRecordBatchBuilder(2, 0, False, -1, -1, -1, 10**7)
        for i in range(records):
            builder.append(i, 1_700_000_000_000 + i, b"key-%d" % (i % 1000),
                           b"%08d" % i * 12 + b"xxxx", [])
        request = ProduceRequest[9](transactional_id=None, acks=-1, timeout_ms=30_000,
                                    topic_data=[ProduceRequest.TopicProduceData(
                                        name="t", partition_data=[
                                            ProduceRequest.TopicProduceData.PartitionProduceData(
                                                index=0, records=bytes(builder.build()))])])
        request.with_header(correlation_id=cid, client_id="bench")
        frames.append(bytes(request.encode(version=9, header=True, framed=True)))
    return frames


def served():
    """The wire tests' listener (tests/kafka/conftest.Live: its own event loop thread), with
    the rooms `manage.py kafka_listener` makes (get_rooms: stored in the database on its own
    thread, the room's record budget and quotas) but an in-process channel layer, and the
    interpreter tuned alike."""
    from channels.layers import InMemoryChannelLayer
    from django.conf import settings

    from playground.process import tune
    from playground.rooms.quotas import Quotas
    from playground.rooms.registry import Rooms
    from playground.rooms.store import DbStore
    from tests.kafka.conftest import Live

    live = Live(rooms=Rooms(max_rooms=5, idle_s=3600, layer=InMemoryChannelLayer(),
                            records_max=settings.PLAYGROUND_ROOM_RECORDS_MAX,
                            quotas=Quotas.from_settings(), store=DbStore()))
    tune(50_000)  # PLAYGROUND_GC_YOUNG's default
    return live


def partition(live) -> tuple[int, int]:
    """Topic t's partition 0: (the port of its leader, its log end offset)."""
    def read():
        part = live.room.cluster.topics["t"].partitions[0]
        return live.port + part.leader - 1, part.leader_log.end_offset
    return live.call(read)


def thread_time(loop) -> float:
    """The CPU time of the thread running `loop`."""
    async def read():
        return time.thread_time()
    return asyncio.run_coroutine_threadsafe(read(), loop).result(10)


class Client:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _answer(self) -> None:
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack_from(">i", self.buf)[0]
                if len(self.buf) >= 4 + n:
                    self.buf = self.buf[4 + n:]
                    return
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buf += chunk

    def run(self, frames: list[bytes], n: int, pipeline: int, loop) -> float:
        """CPU seconds of the server's event loop thread (`loop`) per request over `n`."""
        sent = got = 0
        c0 = thread_time(loop)
        while got < n:
            while sent < n and sent - got < pipeline:
                self.sock.sendall(frames[sent % len(frames)])
                sent += 1
            self._answer()
            got += 1
        return (thread_time(loop) - c0) / n

    def close(self) -> None:
        self.sock.close()


class Baseline:
    """Reads each frame and answers with a fixed one: asyncio's own cost per request."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader, writer):
        answer = struct.pack(">ii", 4, 0)
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(4), "big")
                await reader.readexactly(size)
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", default="1,20,200",
                        help="records per request, comma-separated")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pipeline", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(r) for r in args.records.split(",")]
    print(f"command: .venv/bin/python bench/wire_requests.py --records {args.records} "
          f"--requests {args.requests} --runs {args.runs} --pipeline {args.pipeline}")
    setup_django()
    live = served()
    live.apply({"type": "topic.create", "name": "t", "partitions": 1, "replication_factor": 1})
    baseline = Baseline()
    leader_port, _ = partition(live)
    to_listener, to_baseline = Client(leader_port), Client(baseline.port)
    try:
        print(f"{'records':>8} {'listener':>14} {'asyncio alone':>14} {'ratio':>6}")
        for records in sizes:
            frames = produce_frames(records)
            to_listener.run(frames, 200, args.pipeline, live.loop)  # warm up
            ours, bare = [], []
            for _ in range(args.runs):
                before = partition(live)[1]
                ours.append(to_listener.run(frames, args.requests, args.pipeline, live.loop))
                # Every request appended (a refused one would be quick: the room's recording
                # fills at 256 MiB of commands).
                appended = partition(live)[1] - before
                if appended != args.requests * records:
                    raise RuntimeError(f"{appended:,} of {args.requests * records:,} records "
                                       "were appended")
                bare.append(to_baseline.run(frames, args.requests, args.pipeline,
                                            baseline.loop))
            ours_us, bare_us = statistics.median(ours) * 1e6, statistics.median(bare) * 1e6
            print(f"{records:8} {ours_us:10,.0f} µs {bare_us:10,.0f} µs {ours_us / bare_us:6.1f}"
                  "   (CPU of the server's loop thread per request, median of runs)", flush=True)
    finally:
        to_listener.close()
        to_baseline.close()
        baseline.close()
        live.close()


if __name__ == "__main__":
    main()
