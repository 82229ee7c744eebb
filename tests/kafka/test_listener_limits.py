"""The Kafka port cannot starve the web app or exhaust memory (issue 11): a pipelining client
shares the event loop, connections per address are capped, idle ones are closed, and the bytes
of requests held across all connections are bounded by a pool."""

import asyncio
import logging
import select
import socket
import struct
import threading
import time

from kafka.protocol.consumer import FetchRequest

from tests.kafka.conftest import Live
from tests.kafka.test_failures import api_versions_request, closed, read_exactly, read_frame
from tests.kafka.test_protocol import request_bytes


def answers_api_versions(sock, correlation_id: int = 5) -> bool:
    sock.settimeout(5)
    sock.sendall(api_versions_request(correlation_id=correlation_id))
    frame = read_frame(sock)
    return struct.unpack_from(">ih", frame) == (correlation_id, 0)


def wait_until(predicate, timeout_s: float = 5) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


async def worst_lag_s(duration_s: float, step_s: float = 0.01) -> float:
    """How late a coroutine sleeping `step_s` at a time wakes, at worst, over `duration_s`:
    what every other socket (HTTP, WebSockets, other Kafka clients) on the loop would wait."""
    loop = asyncio.get_running_loop()
    worst = 0.0
    end = loop.time() + duration_s
    while loop.time() < end:
        before = loop.time()
        await asyncio.sleep(step_s)
        worst = max(worst, loop.time() - before - step_s)
    return worst


def test_a_pipelining_client_does_not_stall_the_event_loop():
    live = Live()
    stop = threading.Event()
    answered = [0]
    try:
        sock = socket.create_connection(("127.0.0.1", live.port), timeout=10)
        batch = api_versions_request(correlation_id=1) * 2000

        def send():
            try:
                while not stop.is_set():
                    sock.sendall(batch)
            except OSError:
                pass

        def receive():
            try:
                while not stop.is_set():
                    data = sock.recv(1 << 20)
                    if not data:
                        return
                    answered[0] += len(data)
            except OSError:
                pass

        threads = [threading.Thread(target=send, daemon=True),
                   threading.Thread(target=receive, daemon=True)]
        for t in threads:
            t.start()
        worst = live.run(worst_lag_s(2.0), timeout=60)
        stop.set()
        sock.close()
        for t in threads:
            t.join(5)
        assert answered[0] > 0  # the client was served all along
        assert worst < 0.2, f"the event loop stalled {worst * 1000:.0f} ms"
    finally:
        stop.set()
        live.close()


def test_connections_over_the_per_address_cap_are_closed_at_once(caplog):
    live = Live(connections_per_address=3)
    socks = []
    try:
        with caplog.at_level(logging.WARNING, logger="playground.kafka.server"):
            for i in range(3):
                sock = socket.create_connection(("127.0.0.1", live.port + i % 2), timeout=5)
                socks.append(sock)
                assert answers_api_versions(sock)
            # The cap counts every broker's port: the listener's process is the resource.
            extra = socket.create_connection(("127.0.0.1", live.port + 2), timeout=5)
            socks.append(extra)
            assert closed(extra)
        assert any("PLAYGROUND_KAFKA_CONNECTIONS_PER_ADDRESS" in r.getMessage()
                   and "3" in r.getMessage() and r.levelno == logging.WARNING
                   for r in caplog.records)
        for sock in socks[:3]:
            assert answers_api_versions(sock, correlation_id=9)
        # A connection that closes makes room for another.
        socks[0].close()
        assert wait_until(lambda: live.call(lambda: sum(live.listener.addresses.values())) == 2)
        again = socket.create_connection(("127.0.0.1", live.port), timeout=5)
        socks.append(again)
        assert answers_api_versions(again)
    finally:
        for sock in socks:
            sock.close()
        live.close()


def test_an_idle_connection_is_closed_but_a_long_poll_is_not_idle():
    live = Live(idle_s=0.3)
    try:
        with socket.create_connection(("127.0.0.1", live.port), timeout=5) as idle:
            assert closed(idle, timeout=5)
        with socket.create_connection(("127.0.0.1", live.port), timeout=5) as polling:
            # A Fetch of nothing waits its whole max_wait_ms (1 s, over the idle timeout) for
            # data: the connection waits on its own answer, it is not idle.
            request = FetchRequest[4](replica_id=-1, max_wait_ms=1000, min_bytes=1,
                                      max_bytes=1 << 20, isolation_level=0, topics=[])
            started = time.monotonic()
            polling.sendall(request_bytes(request, 4, correlation_id=3))
            polling.settimeout(5)
            frame = read_frame(polling)
            assert struct.unpack_from(">i", frame) == (3,)
            assert time.monotonic() - started >= 0.9
            assert answers_api_versions(polling)  # sent within the idle time: still open
            assert closed(polling, timeout=5)  # and then idle: closed
    finally:
        live.close()


def test_stalled_big_frames_are_bounded_by_the_pool_and_small_requests_are_still_served():
    frame_bytes = 4 * 1024 * 1024
    live = Live(max_frame_bytes=frame_bytes, queued_bytes=frame_bytes, frame_body_timeout_s=30)
    listener = live.listener
    stalled = []
    try:
        # Eight clients each announce a 4 MiB frame and send all of it but its last byte, as
        # fast as the server takes it. Without the pool the server buffers ~32 MiB; with it one
        # frame is read (the pool holds one) and the others are muted: their bytes stay in the
        # clients' and the kernel's buffers.
        body = b"\0" * (frame_bytes - 1)
        for _ in range(8):
            sock = socket.create_connection(("127.0.0.1", live.port), timeout=5)
            sock.sendall(struct.pack(">i", frame_bytes))
            sock.setblocking(False)
            stalled.append(sock)

        def send_until_refused(sock):
            view = memoryview(body)
            while view:
                try:
                    view = view[sock.send(view):]
                except BlockingIOError:
                    # No progress for 0.5 s: the server stopped reading this connection.
                    if not select.select([], [sock], [], 0.5)[1]:
                        return

        senders = [threading.Thread(target=send_until_refused, args=(s,), daemon=True)
                   for s in stalled]
        for t in senders:
            t.start()
        for t in senders:
            t.join(30)

        def held():
            readers = [c.reader for conns in listener.connections.values() for c in conns]
            # The StreamReader buffer is where an unbounded server keeps a frame being read.
            return (listener.pool.used, listener.pool.waiting,
                    sum(len(r._buffer) for r in readers))

        # What the clients sent may still be in the kernel's buffers: measure once the server
        # has stopped taking it in (the same figure twice, 0.2 s apart; at most 10 s).
        before, deadline = None, time.monotonic() + 10
        while (now := live.call(held)) != before and time.monotonic() < deadline:
            before = now
            time.sleep(0.2)
        used, waiting, buffered = now
        assert used <= frame_bytes and waiting == 7
        # One frame, plus per muted connection what its stream buffers before it stops reading
        # its socket: twice the 64 KiB limit and one read of up to 256 KiB past it.
        assert buffered <= frame_bytes + 8 * 384 * 1024, f"{buffered:,} bytes buffered"

        # Small requests (the metadata, heartbeats and fetches that keep a cluster going) are
        # not held up behind the big ones.
        with socket.create_connection(("127.0.0.1", live.port), timeout=5) as small:
            started = time.monotonic()
            assert answers_api_versions(small)
            assert time.monotonic() - started < 1

        # A started frame that stops arriving closes its connection and frees its share of the
        # pool for the next. The client whose frame is being read hangs up; each next one to
        # get the pool stalls half a second and is closed; nothing stays reserved.
        def reading_port():
            conns = [c for cs in listener.connections.values() for c in cs]
            return max(conns, key=lambda c: len(c.reader._buffer)).peer.rsplit(":", 1)[1]

        holder_port = int(live.call(reading_port))
        live.call(setattr, listener, "frame_body_timeout_s", 0.5)
        for sock in stalled:
            if sock.getsockname()[1] == holder_port:
                sock.close()
                continue
            sock.setblocking(True)
            assert closed(sock, timeout=30)
        assert wait_until(lambda: live.call(held)[:2] == (0, 0))
    finally:
        for sock in stalled:
            sock.close()
        live.close()


def test_a_pool_smaller_than_the_largest_frame_is_refused_with_both_values():
    from playground.kafka.server import Listener

    try:
        Listener(None, queued_bytes=1024 * 1024, max_frame_bytes=8 * 1024 * 1024)
        raise AssertionError("accepted")
    except ValueError as e:
        assert "PLAYGROUND_KAFKA_QUEUED_BYTES" in str(e)
        assert "1,048,576" in str(e) and "8,388,608" in str(e)


def test_a_frame_that_fits_the_pool_is_served_after_the_wait():
    """A big request that had to wait for the pool is read and answered once it is free."""
    live = Live(max_frame_bytes=1024 * 1024, queued_bytes=1024 * 1024)
    try:
        with socket.create_connection(("127.0.0.1", live.port), timeout=5) as holder, \
                socket.create_connection(("127.0.0.1", live.port), timeout=5) as waiter:
            holder.sendall(struct.pack(">i", 1024 * 1024))  # reserves the whole pool, stalls
            assert wait_until(lambda: live.call(lambda: live.listener.pool.used) > 0)
            # An ApiVersions request padded to 200 KiB (Kafka ignores bytes past the fields).
            body = api_versions_request(correlation_id=11)[4:] + b"\0" * (200 * 1024)
            waiter.sendall(struct.pack(">i", len(body)) + body)
            assert wait_until(lambda: live.call(lambda: live.listener.pool.waiting) == 1)
            holder.close()
            waiter.settimeout(5)
            size = struct.unpack(">i", read_exactly(waiter, 4))[0]
            assert struct.unpack_from(">i", read_exactly(waiter, size)) == (11,)
    finally:
        live.close()
