"""The Kafka wire listener: one TCP port per simulated broker of one room.

Theory of operation. `Listener` serves one room (by default ``live``), found or created through
the Rooms registry. Broker ``b`` listens on ``port + b - 1`` while it is running in the model:
the listener observes the room's events (`Room.add_listener`), and ``broker.stopped`` closes
that broker's port and every connection to it (a client sees its socket drop, as when a real
broker dies), ``broker.started`` opens it again.

Each connection reads length-prefixed frames and handles them one at a time, in order (Kafka
mutes a connection while a request is in progress, so clients never expect otherwise), with
one exception: a Produce that has applied all it will and waits only for the store releases
the connection, so that a client's next requests (up to `pipeline` in all) are applied while it
waits and their saves share one commit; answers still go out in the requests' order. A
frame larger than `codec.MAX_FRAME_BYTES`, one that does not decode, an unknown API key or an
unsupported version (except ApiVersions, which gets KIP-511's UNSUPPORTED_VERSION answer), or a
handler that fails, closes that connection only: the room and every other connection go on.

The listener shares its event loop with the web app, so no client may hold it or its memory:
- a connection answers one request per turn of the loop (a pipelining client's requests are
  already buffered, so without a yield its loop would never let anyone else run);
- each client address has at most `connections_per_address` connections open across all the
  brokers' ports (Kafka's max.connections.per.ip); one more is closed at once;
- a connection that sends nothing for `idle_s` (or reads none of its answers for that long) is
  closed (connections.max.idle.ms); one waiting on its own long-polling answer is not idle;
- the bytes of big requests being read or handled, across all connections, come from one
  `RequestPool` of `queued_bytes` (queued.max.request.bytes): a connection reserves a frame's
  size before it reads the body and waits, muted, while the pool is spent. A frame body that
  stops arriving closes its connection after `frame_body_timeout_s`, so a stalled sender cannot
  keep its share of the pool.

While any client is connected the room runs at 1x (`Room.realtime`): real clients' timeouts
and heartbeats run on the wall clock, so the model's time must too. The listener stays attached
to the room like a viewer (so the registry ticks it, sends frames to browsers and never puts it
to sleep) and, while clients are connected, runs its own ticker besides, which advances the
room exactly when the model has something due (a follower fetch, a session timeout): acks=all
answers come within milliseconds instead of waiting for the next 50 ms frame tick.
"""

import asyncio
import collections
import logging
import struct
import time

from broker_core import reads
from broker_core.assignors import java_string_hash
from playground.rooms.limits import AddressCounts
from playground.rooms.room import PROCESS_VIEWER_PREFIX

from . import codec
from .codec import error_code
from .handlers import HANDLERS, ZERO_UUID, api_versions_unsupported

log = logging.getLogger(__name__)

REALTIME_MESSAGE = "real Kafka clients are connected: this room runs at 1×"
# The name the listener attaches to its room under (a process, not counted as watching).
VIEWER = PROCESS_VIEWER_PREFIX + "kafka-listener"
# The live room's recording may grow this large (browser rooms: LOG_BYTES_MAX, 1.5 MB); past
# it, Produce is refused with POLICY_VIOLATION and the page says so.
LIVE_LOG_BYTES_MAX = 256 * 1024 * 1024

LIVE_SPEC = {
    "name": "live", "title": "Live: real Kafka clients",
    "description": "Point kafka-python, aiokafka, confluent-kafka or kcat at the listener "
                   "(127.0.0.1:9092 by default); topics are created as Kafka's defaults do.",
    "brokers": 3,
    # Followers fetch continuously in Kafka (a long poll): a small interval keeps acks=all
    # latency at a few ms at 1x. auto.create.topics.enable etc. keep Kafka's defaults.
    "cluster_config": {"replica.fetch.interval.ms": 5},
    "timeline": [],
}

# How long a frame's body may take to arrive once its length came. A client writes a request
# in one go, so on a classroom network even an 8 MiB frame takes well under a second; a body
# still incomplete after 30 s is a stalled or hostile sender holding its share of the pool.
FRAME_BODY_TIMEOUT_S = 30.0
# The StreamReader's buffer limit: a connection buffers up to twice this before it stops reading
# from its socket. Frames up to this size bypass the pool (see `Listener._requests`).
STREAM_LIMIT_BYTES = 64 * 1024
# How far the room's clock may stray from the wall clock before the listener re-anchors the
# timestamps of the model's records (Listener.epoch_ms).
EPOCH_SLACK_MS = 1_000
# A flood of refused connections from one address logs one warning per this many seconds.
REFUSAL_LOG_INTERVAL_S = 60.0


class RequestPool:
    """Bytes of requests being read or handled, across all connections: Kafka's memory pool of
    queued.max.request.bytes. `reserve` waits while the pool cannot hold the request (the
    connection is muted meanwhile: its bytes stay in the client's and the kernel's buffers).
    Waiters are served first come, first served, so a big frame is never overtaken for ever by
    later smaller ones."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.used = 0
        self._waiters: collections.deque[tuple[int, asyncio.Future]] = collections.deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def reserve(self, size: int) -> None:
        if not self._waiters and self.used + size <= self.capacity:
            self.used += size
            return
        entry = (size, asyncio.get_running_loop().create_future())
        self._waiters.append(entry)
        try:
            await entry[1]
        except BaseException:
            if entry[1].done() and not entry[1].cancelled():
                self.release(size)  # granted just as the connection was cancelled
            else:
                if entry in self._waiters:
                    self._waiters.remove(entry)
                self._grant()  # it may have been first in line, holding up the next
            raise

    def release(self, size: int) -> None:
        self.used -= size
        self._grant()

    def _grant(self) -> None:
        while self._waiters:
            size, waiter = self._waiters[0]
            if waiter.done():  # cancelled; its task removes nothing more
                self._waiters.popleft()
                continue
            if self.used + size > self.capacity:
                return
            self._waiters.popleft()
            self.used += size
            waiter.set_result(None)


class Watch:
    """Model events matching a predicate, from the moment it was made."""

    def __init__(self, listener: "Listener", predicate):
        self.listener = listener
        self.predicate = predicate
        self.matched: list[dict] = []
        self._ready = asyncio.Event()
        listener.watches.add(self)

    def feed(self, events: list[dict]) -> None:
        predicate = self.predicate
        for event in events:
            if predicate(event):
                self.matched.append(event)
                self._ready.set()

    async def next(self, timeout_s: float) -> dict | None:
        if not self.matched:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), max(0.0, timeout_s))
            except TimeoutError:
                return None
        event = self.matched.pop(0)
        if not self.matched:
            self._ready.clear()
        return event

    def close(self) -> None:
        self.listener.watches.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Connection:
    """One client connection to one simulated broker; what handlers get as `conn`."""

    def __init__(self, listener: "Listener", broker: int, reader, writer):
        self.listener = listener
        self.broker = broker
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.peer = f"{peer[0]}:{peer[1]}"
        self.client_id: str | None = None
        self._client: tuple = (object(), "")  # (client id, its name): see `client`
        self.header: codec.Header | None = None
        # Produce: what the current request's compressed batches may still decompress to.
        self.decompress_budget = codec.MAX_DECOMPRESSED_BYTES
        # Resolved by `persist(last=True)` of the request being handled (None between).
        self.parked: asyncio.Future | None = None
        # The read loop's idle timeout while it waits for a request (None otherwise).
        self.idle: asyncio.Timeout | None = None

    @property
    def room(self):
        return self.listener.room

    @property
    def client(self) -> str:
        """Who sent a command, as the page names producers: "<client.id>@<host:port>" (the
        client id trimmed and made printable: it is the client's own text). Made once per
        client id: a request asks for it once per partition."""
        if self._client[0] != self.client_id:
            name = "".join(c if c.isprintable() else "?"
                           for c in (self.client_id or "client")[:120])
            self._client = (self.client_id, f"{name or 'client'}@{self.peer}")
        return self._client[1]

    def apply(self, command: dict) -> list[dict]:
        return self.request(command)[0]

    def request(self, command: dict, plain: bool = False) -> tuple[list[dict], dict | None]:
        """Apply a client's command through the room (recorded, paced); its events and its
        answer (broker_core Cluster.request), from which the reply is made. `plain`: see
        Room.request."""
        events, answer = self.listener.room.request(command, plain)
        self.listener.poke()
        return events, answer

    async def persist(self, last: bool = False) -> None:
        """Until what the room applied is stored. `last`: the request has applied all it
        will and waits for nothing else (no acks, no barrier), so the connection may read and
        apply its next request meanwhile (see Listener._requests). Only then: Kafka handles a
        connection's requests one at a time, and a request still waiting for something the
        next could change (a JoinGroup's barrier) must not see it first."""
        if last and self.parked is not None and not self.parked.done():
            self.parked.set_result(None)
        await self.listener.persist()

    def watch(self, predicate) -> Watch:
        return Watch(self.listener, predicate)

    async def changed(self, timeout_s: float) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self.listener.change_waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, max(0.0, timeout_s))
        except TimeoutError:
            pass
        finally:
            if waiter in self.listener.change_waiters:
                self.listener.change_waiters.remove(waiter)


class Listener:
    def __init__(self, rooms, room_id: str = "live", host: str = "127.0.0.1",
                 port: int = 9092, spec: dict | None = None,
                 log_bytes_max: int = LIVE_LOG_BYTES_MAX,
                 max_frame_bytes: int = codec.MAX_FRAME_BYTES,
                 connections_per_address: int | None = None, idle_s: float | None = None,
                 queued_bytes: int | None = None, pipeline: int | None = None,
                 frame_body_timeout_s: float = FRAME_BODY_TIMEOUT_S):
        """The limits left None come from Django's settings PLAYGROUND_KAFKA_<NAME>."""
        from django.conf import settings

        if connections_per_address is None:
            connections_per_address = settings.PLAYGROUND_KAFKA_CONNECTIONS_PER_ADDRESS
        if idle_s is None:
            idle_s = settings.PLAYGROUND_KAFKA_IDLE_S
        if queued_bytes is None:
            queued_bytes = settings.PLAYGROUND_KAFKA_QUEUED_BYTES
        if pipeline is None:
            pipeline = settings.PLAYGROUND_KAFKA_PIPELINE
        if queued_bytes < max_frame_bytes:
            # As Kafka requires queued.max.request.bytes >= socket.request.max.bytes: a frame
            # the pool can never hold would wait for ever, and its connection with it.
            raise ValueError(f"PLAYGROUND_KAFKA_QUEUED_BYTES={queued_bytes:,} is smaller than "
                             f"the largest request frame ({max_frame_bytes:,} bytes)")
        self.rooms = rooms
        self.room_id = room_id
        self.host = host
        self.port = port
        self.spec = spec or LIVE_SPEC
        self.log_bytes_max = log_bytes_max
        self.max_frame_bytes = max_frame_bytes
        self.connections_per_address = connections_per_address
        self.idle_s = idle_s
        # Requests of one connection in progress at once (see _requests).
        self.pipeline = pipeline
        self.frame_body_timeout_s = frame_body_timeout_s
        self.pool = RequestPool(queued_bytes)
        # Open connections per client IP, across every broker's port.
        self.addresses = AddressCounts()
        # Per address refused lately: (monotonic time of the last warning, refusals since).
        self._refusals: dict[str, tuple[float, int]] = {}
        self.room = None
        self.servers: dict[int, asyncio.AbstractServer] = {}
        self.connections: dict[int, set[Connection]] = {}
        self.tasks: set[asyncio.Task] = set()
        self.watches: set[Watch] = set()
        self.change_waiters: list[asyncio.Future] = []
        self.clients = 0
        self._poke = asyncio.Event()
        self._ticker: asyncio.Task | None = None
        self._tick_due: int | None = None  # the model's next due time when _tick last planned
        self._closed = False
        # Wall-clock ms at model time 0: the timestamp Fetch and ListOffsets show for records
        # the model wrote (clients' records keep their own create times). Set again each time
        # the room goes back to running in real time, as the room's clock stands still (or
        # ran at the page's speed) while no client was connected.
        self.epoch_ms = 0
        self.noticed: set[str] = set()  # what notice_once told the page already

    # -- the room ---------------------------------------------------------------------------

    async def start(self) -> None:
        rooms = self.rooms
        # The room must run here, where its clients' requests are served: a process that has
        # it awake (browsers opened the stored room there) hands it over first.
        await rooms.take_over(self.room_id)
        if await rooms.aexists(self.room_id):
            # Stored by an earlier run: rebuilt by replay, records and groups as they were.
            room = await rooms.wake(self.room_id)
        else:
            meta = {k: self.spec.get(k, "") for k in ("name", "title", "description")}
            room = rooms.create(self.spec, meta=meta, room_id=self.room_id)
        room.log_bytes_max = self.log_bytes_max
        await rooms.persist(self.room_id)
        self.room = room
        self.epoch_ms = int(time.time() * 1000) - room.cluster.now_ms
        # Counts will do (Room.add_listener): it waits on the high watermark (an aggregate
        # carries where it got to) and on structural events, never on one record's.
        room.add_listener(self._on_events, counts=True)
        # Attached for as long as the listener runs: the registry then never puts the room to
        # sleep (a woken room would be a new object the listener does not serve) and ticks it
        # while real clients come and go. The page counts the listener among its viewers.
        await rooms.attach(self.room_id, VIEWER)
        for b in reads.brokers(room.cluster):
            if b["up"]:
                await self._open(b["id"])

    async def close(self) -> None:
        self._closed = True
        if self.room is not None:
            self.room.remove_listener(self._on_events)
        for b in list(self.servers):
            self._shut(b)
        for task in list(self.tasks):
            task.cancel()
        if self._ticker is not None:
            self._ticker.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.room is not None:
            if self.clients:
                self.clients = 0
                self._realtime_off()
            await self.rooms.detach(self.room_id, VIEWER)

    def address(self, broker: int) -> tuple[str, int]:
        return self.host, self.port + broker - 1

    def coordinator(self, group_id: str) -> int | None:
        """The group's coordinator: the leader of its __consumer_offsets partition in Kafka
        (partition = abs(Java String.hashCode(group id)) % 50). Here that partition's leader is
        broker 1 + partition % brokers, or the next running broker by id while it is down."""
        brokers = reads.brokers(self.room.cluster)
        ids = [b["id"] for b in brokers]
        h = java_string_hash(group_id)  # unsigned; Java's int is signed
        if h >= 2**31:
            h -= 2**32
        # Java's Utils.abs: abs, with MIN_VALUE mapped to 0
        partition = (0 if h == -2**31 else abs(h)) % 50
        first = partition % len(ids)
        for i in range(len(ids)):
            b = brokers[(first + i) % len(ids)]
            if b["up"]:
                return b["id"]
        return None

    async def persist(self) -> None:
        """Store what clients' requests applied before their answers go out. A request that
        applied nothing (every partition refused, a client retrying through a leader change)
        costs no write: this is the hottest path."""
        room = self.room
        if room is not None and not self.rooms.persister.has_unsaved(room):
            return
        await self.rooms.persist(self.room_id)

    def notice_once(self, key: str, text: str) -> None:
        """Tell the room's page something about real clients, once per listener run."""
        if key not in self.noticed:
            self.noticed.add(key)
            self._spawn(self.room.notice("warning", text))

    @property
    def log_full_noticed(self) -> bool:
        return "recording_full" in self.noticed

    def recording_full(self) -> None:
        """Produce was refused because the room's recording is full: the page says so, once."""
        self.notice_once("recording_full", (
            f"This room's recording is full ({self.room.log_bytes_max:,} bytes of commands): "
            "real clients' produce requests are refused (POLICY_VIOLATION). Restart the "
            "listener with a fresh room to go on."))

    def poke(self) -> None:
        """A client's command was applied: wake the ticker if it made something due sooner
        than the ticker planned for (an acks=all batch's follower fetches, a group's session
        timeout). Otherwise its plan stands, and a busy producer's requests do not each cost a
        turn of it."""
        due = self.room.cluster.next_due_ms()
        if due is not None and (self._tick_due is None or due < self._tick_due):
            self._poke.set()

    def _on_events(self, events: list[dict]) -> None:
        for watch in list(self.watches):
            watch.feed(events)
        if self.change_waiters:
            waiters, self.change_waiters = self.change_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        if self._closed:
            return
        for event in events:
            kind = event["type"]
            if kind == "broker.stopped":
                self._shut(event["broker"])
            elif kind == "broker.started":
                self._spawn(self._reopen(event["broker"]))

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _realtime_on(self) -> None:
        room = self.room
        room.set_realtime(REALTIME_MESSAGE)
        epoch_ms = int(time.time() * 1000) - room.pacer.virtual_at(room.clock())
        # Only when the room's clock really strayed from the wall clock (it stood still, or ran
        # at the page's speed): a client reconnecting to a room that kept running in real time
        # must not see the same record's timestamp move by a millisecond of rounding.
        if abs(epoch_ms - self.epoch_ms) > EPOCH_SLACK_MS:
            self.epoch_ms = epoch_ms
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    def _realtime_off(self) -> None:
        self.room.set_realtime(None)

    async def _tick(self) -> None:
        """Advance the room when the model has something due, so answers that wait on it
        (acks=all, a long-polling Fetch) come on time rather than at the next frame tick."""
        while self.clients and not self._closed:
            room = self.room
            due = room.cluster.next_due_ms()
            now_v = room.pacer.virtual_at(room.clock())
            wait_s = 0.05 if due is None else min(0.05, max(0.0, (due - now_v) / 1000))
            self._tick_due = due
            self._poke.clear()
            if wait_s > 0:
                try:
                    await asyncio.wait_for(self._poke.wait(), wait_s)
                except TimeoutError:
                    pass
            else:
                # Something is due already (or the room is behind: advance spent its budget
                # and the pacer is ahead again): still let connections and frames run between
                # two budgets, or a busy room would hold the loop until it caught up.
                await asyncio.sleep(0)
            try:
                room.advance(room.clock())
            except Exception:
                log.exception("room %s: advance failed", self.room_id)
                await asyncio.sleep(0.05)

    # -- ports --------------------------------------------------------------------------------

    async def _open(self, broker: int) -> None:
        if self._closed or broker in self.servers:
            return
        host, port = self.address(broker)

        async def serve(reader, writer):
            await self._serve(broker, reader, writer)

        server = await asyncio.start_server(serve, host, port, reuse_address=True,
                                            limit=STREAM_LIMIT_BYTES)
        if self._closed or not reads.broker_up(self.room.cluster, broker):
            server.close()  # stopped again while the port was opening
            return
        self.servers[broker] = server
        log.info("broker %s listening on %s:%s", broker, host, port)

    async def _reopen(self, broker: int) -> None:
        try:
            await self._open(broker)
        except OSError as e:
            # The port is taken (another program, or the OS still holds it): the broker runs in
            # the model but clients cannot reach it, as with a real broker that fails to bind.
            log.error("broker %s: cannot listen on %s:%s again: %s", broker,
                      *self.address(broker), e)

    def _shut(self, broker: int) -> None:
        server = self.servers.pop(broker, None)
        if server is not None:
            server.close()
        for conn in list(self.connections.pop(broker, ())):
            conn.writer.transport.abort()

    async def _serve(self, broker: int, reader, writer) -> None:
        if broker not in self.servers:
            writer.transport.abort()  # accepted just before the broker stopped
            return
        # Kafka has no proxy headers: the peer is the client (or its NAT, which is why the
        # default cap fits a classroom behind one address).
        address = str((writer.get_extra_info("peername") or ("?",))[0])
        if not self.addresses.take(address, self.connections_per_address):
            writer.transport.abort()
            self._refused(address, self.addresses[address])
            return
        conn = Connection(self, broker, reader, writer)
        self.connections.setdefault(broker, set()).add(conn)
        self.clients += 1
        task = asyncio.current_task()
        self.tasks.add(task)
        try:
            if self.clients == 1:
                self._realtime_on()
            await self._requests(conn)
        except (ConnectionError, asyncio.IncompleteReadError, codec.FrameError) as e:
            log.debug("connection %s to broker %s closed: %s", conn.peer, broker, e)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("connection %s to broker %s: a handler failed; closing it",
                          conn.peer, broker)
        finally:
            self.tasks.discard(task)
            self.connections.get(broker, set()).discard(conn)
            writer.transport.abort()
            self.addresses.give_back(address)
            self.clients -= 1
            if self.clients == 0 and not self._closed:
                self._realtime_off()

    def _refused(self, address: str, open_now: int) -> None:
        """Log a refusal at warning, once per REFUSAL_LOG_INTERVAL_S and address (a client
        retrying in a loop would otherwise fill the log), the others at debug."""
        now = time.monotonic()
        last, since = self._refusals.get(address, (-REFUSAL_LOG_INTERVAL_S, 0))
        if now - last < REFUSAL_LOG_INTERVAL_S:
            self._refusals[address] = (last, since + 1)
            log.debug("Kafka connection from %s refused (connection cap)", address)
            return
        if len(self._refusals) >= 1024:  # forget addresses not refused lately
            self._refusals = {a: v for a, v in self._refusals.items()
                              if now - v[0] < REFUSAL_LOG_INTERVAL_S}
        self._refusals[address] = (now, 0)
        more = f"; {since:,} more refused since the last warning" if since else ""
        log.warning("Kafka connection from %s refused: %s connections open from this address, "
                    "at most PLAYGROUND_KAFKA_CONNECTIONS_PER_ADDRESS=%s%s", address, open_now,
                    self.connections_per_address, more)

    async def _requests(self, conn: Connection) -> None:
        """Read and answer the connection's requests, answers in the order the requests came.

        A request is handled alone until it has applied what it will (its handler's persist):
        only then is the next one read, so commands reach the room in the client's order, as
        with Kafka. While earlier ones wait for the store, later ones are applied, and their
        saves share commits: a producer past its queue sends a request of a few dozen records
        every linger.ms, and one commit each, in turn, held it to a few thousand records/s."""
        reader = conn.reader
        max_frame = self.max_frame_bytes
        pool = self.pool
        loop = asyncio.get_running_loop()
        answers: collections.deque = collections.deque()  # (handler task, bytes reserved)
        moved = asyncio.Event()  # an answer was queued or written
        writing = asyncio.ensure_future(self._write_answers(conn, answers, moved))
        try:
            while True:
                while len(answers) >= self.pipeline and not writing.done():
                    await _moved_or_done(moved, writing)
                if writing.done():
                    return writing.result()
                try:
                    # Idle: nothing sent since the last answer went out (a request in
                    # progress, a long-polling Fetch or a Produce waiting for the store among
                    # them, is not idle: this clock is not running; the writer starts it when
                    # it sends the last answer, `conn.idle`).
                    async with asyncio.timeout(None if answers else self.idle_s) as idle:
                        conn.idle = idle
                        head = await reader.readexactly(4)
                except TimeoutError:
                    log.debug("connection %s closed: idle for %s s (PLAYGROUND_KAFKA_IDLE_S)",
                              conn.peer, self.idle_s)
                    return
                finally:
                    conn.idle = None
                size = int.from_bytes(head, "big", signed=True)
                if max_frame < size <= codec.SOCKET_REQUEST_MAX_BYTES:
                    # Answered here, directly: after every answer before it.
                    while answers and not writing.done():
                        await _moved_or_done(moved, writing)
                    if writing.done():
                        return writing.result()
                    if not await self._oversized(conn, size):
                        return
                    continue
                if size < 0 or size > max_frame:
                    raise codec.FrameError(f"a frame of {size:,} bytes (at most {max_frame:,})")
                # A frame that fits the stream buffer costs no more than the connection
                # already may (it buffers up to twice STREAM_LIMIT_BYTES whatever we read), so
                # it does not wait for the pool: metadata, heartbeats, commits and fetches keep
                # the cluster going while big produce requests queue for their turn. Bigger
                # frames reserve their size first, so the bytes held across all connections
                # stay within the pool plus a bounded amount per open connection, itself
                # capped per address. Given back once the answer is in the transport.
                reserved = size if size > STREAM_LIMIT_BYTES else 0
                if reserved:
                    await pool.reserve(reserved)
                header = None
                try:
                    async with asyncio.timeout(self.frame_body_timeout_s):
                        frame = await reader.readexactly(size)
                    header = codec.parse_header(frame)
                except TimeoutError:
                    log.info("connection %s closed: a frame of %s bytes was not complete "
                             "after %s s", conn.peer, f"{size:,}", self.frame_body_timeout_s)
                    return
                finally:
                    # From here the answer holds the share (given back once it is written).
                    if reserved and header is None:
                        pool.release(reserved)
                conn.header = header
                conn.client_id = header.client_id
                # A future, not an Event: asyncio.wait takes it as it is, with no task a
                # request to wait on the Event.
                conn.parked = parked = loop.create_future()
                task = asyncio.ensure_future(self._answer(conn, header, frame))
                del frame  # the handler holds the request's bytes while it needs them
                answers.append((task, reserved))
                moved.set()
                try:
                    await asyncio.wait([task, parked, writing],
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    conn.parked = None
                if task.done() and (task.cancelled() or task.exception() is not None):
                    # It failed: nothing after it is read (as when requests ran one at a
                    # time); the writer sends the answers before it, then closes.
                    await asyncio.wait([writing])
                    return writing.result()
                # One request per turn of the event loop: a pipelining client's next requests
                # are already buffered, so neither readexactly nor drain would ever yield, and
                # HTTP, WebSockets and every other connection on this loop would wait for it.
                await asyncio.sleep(0)
        except (ConnectionError, asyncio.IncompleteReadError):
            if writing.done() and not writing.cancelled() and writing.exception() is not None:
                raise writing.exception() from None  # a handler failed: what _serve logs
            raise
        finally:
            writing.cancel()
            await asyncio.wait([writing])  # it gives back the share of the answer it awaited
            for task, reserved in answers:
                task.cancel()
                if reserved:
                    pool.release(reserved)
            answers.clear()

    async def _write_answers(self, conn: Connection, answers, moved: asyncio.Event) -> None:
        """Write each answer once its request is done, in the order the requests came. A
        handler's failure ends here and closes the connection (its read loop returns)."""
        writer = conn.writer
        while True:
            if not answers:
                moved.clear()
                await moved.wait()
                continue
            task, reserved = answers[0]
            try:
                response = await task
            except BaseException:
                writer.transport.abort()  # the read loop, waiting for a request, ends too
                raise
            finally:
                answers.popleft()
                if reserved:
                    self.pool.release(reserved)
            if response is not None:
                writer.write(response)
                del response
            if not answers and conn.idle is not None and conn.idle.when() is None:
                # The last answer is out: the read loop's wait for the next request, begun
                # while this one was in progress, is idle from now.
                conn.idle.reschedule(asyncio.get_running_loop().time() + self.idle_s)
            try:
                async with asyncio.timeout(self.idle_s):
                    await writer.drain()
            except TimeoutError:
                log.debug("connection %s closed: read none of its answers for %s s "
                          "(PLAYGROUND_KAFKA_IDLE_S)", conn.peer, self.idle_s)
                writer.transport.abort()
                return
            moved.set()

    async def _oversized(self, conn: Connection, size: int) -> bool:
        """A frame over max_frame_bytes but within Kafka's socket.request.max.bytes: a
        Produce is read through in chunks, never held, and each partition it names is answered
        MESSAGE_TOO_LARGE, as Kafka answers a batch over max.message.bytes (the client then
        fails the record instead of retrying until its delivery timeout). Any other request
        that big closes the connection. False: the connection is to close."""
        reader = conn.reader
        keep = min(size, STREAM_LIMIT_BYTES)
        try:
            async with asyncio.timeout(self.frame_body_timeout_s):
                # The API key and version first: anything but a Produce we serve closes at
                # once, before its bytes are waited for.
                start = await reader.readexactly(4)
                api_key, version = struct.unpack(">hh", start)
                api = HANDLERS.get(api_key)
                if api_key != 0 or api is None or not (
                        api.min_version <= version <= api.max_version):
                    log.debug("connection %s closed: a frame of %s bytes (API %s v%s)",
                              conn.peer, f"{size:,}", api_key, version)
                    return False
                head = start + await reader.readexactly(keep - 4)
                header = codec.parse_header(head)
                left = size - keep
                while left:
                    left -= len(await reader.readexactly(min(left, STREAM_LIMIT_BYTES)))
        except TimeoutError:
            log.info("connection %s closed: a frame of %s bytes was not complete after %s s",
                     conn.peer, f"{size:,}", self.frame_body_timeout_s)
            return False
        conn.header = header
        conn.client_id = header.client_id
        parsed = codec.oversized_produce(header, head)
        if parsed is None:
            return False
        acks, topics = parsed
        if acks == 0:
            return True  # acks=0: no response at all
        message = (f"the request is {size:,} bytes; a record batch may be at most "
                   "max.message.bytes")
        body = {"throttle_time_ms": 0, "responses": [
            {"name": name, "topic_id": topic_id or ZERO_UUID, "partition_responses": [
                {"index": i, "error_code": error_code("MESSAGE_TOO_LARGE"), "base_offset": -1,
                 "log_append_time_ms": -1, "log_start_offset": -1, "error_message": message}
                for i in indexes]}
            for name, topic_id, indexes in topics]}
        conn.writer.write(codec.encode_response(header, body))
        return True

    async def _answer(self, conn: Connection, header: codec.Header, frame: bytes):
        api = HANDLERS.get(header.api_key)
        if api is None:
            raise codec.FrameError(f"unknown API key {header.api_key}")
        if not api.min_version <= header.api_version <= api.max_version:
            if header.api_key == 18:  # KIP-511: answer in v0 with the versions we have
                return codec.encode_response(header, api_versions_unsupported(), version=0)
            raise codec.FrameError(f"API {api.name} v{header.api_version} is not supported "
                                   f"({api.min_version}-{api.max_version})")
        if api.raw:
            return codec.frame_flexible_response(header, await api.fn(conn, frame))
        request = codec.decode_request(header, frame)
        body = await api.fn(conn, request)
        if body is None:
            return None
        return codec.encode_response(header, body)


async def _moved_or_done(moved: asyncio.Event, writing: asyncio.Future) -> None:
    """Until the next answer is written (`moved`), or the writing ends."""
    moved.clear()
    waiter = asyncio.ensure_future(moved.wait())
    try:
        await asyncio.wait([writing, waiter], return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


async def serve_forever(listener: Listener) -> None:
    await listener.start()
    try:
        await asyncio.Event().wait()
    finally:
        await listener.close()

