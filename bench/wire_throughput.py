"""Real Kafka clients against the wire listener, beside librdkafka's own mock cluster.

The listener runs as its own process (`manage.py kafka_listener` on free ports, a fresh `live`
room in a throwaway, migrated SQLite database, DEBUG off as on a server), so the clients do not
share a GIL with it. The reference is librdkafka's mock cluster (3 brokers): what confluent-kafka
starts for `test.mock.num.brokers: 3`, made here with the same library's
`rd_kafka_mock_cluster_new` so that its topics get the bench's partitions (the mock broker
serves no CreateTopics) and other clients can reach it too. It runs in C threads of this
process: on a 2-core machine it is the clients' speed with a broker that costs next to nothing.

Each round, for each client: produce `--records` records of `--size` bytes to a new topic
(6 partitions) on the mock cluster, then on the listener, with the same client settings; then
read the listener's back from offset 0 by assign/seek. The ratios are taken within a round (the
machine is shared, rates drift between rounds but hardly within one) and their median is
reported. A listener's rate is compared with the same client on the mock cluster: confluent-kafka
with confluent-kafka, aiokafka with aiokafka (the issue's "aiokafka 0.59" was this ratio).
Then confluent-kafka produces `--big` records in one go, well past its queue
(queue.buffering.max.messages, 100,000 by default: the application waits for deliveries, and
the client sends whatever its linger gathered, small requests), `--big-rounds` times: each
time the same records go to a freshly started listener in one go, and to another in runs of
`--records` (each within the queue, flushed), one after the other, and the goal is the median
of those pairs' ratios. The listener's stored records are counted after each (a refused
record would be quick). The same run against the rounds' median is printed too.

    .venv/bin/python bench/wire_throughput.py [--records 100000] [--rounds 5] [--big 1000000]
        [--big-rounds 2] [--size 100] [--acks 1] [--rf 1] [--clients confluent,aiokafka]

Goals (issue 15): confluent-kafka through the listener >= 0.3 of its rate on the mock cluster,
aiokafka >= 0.8 of its own on the mock cluster, and past the queue >= 0.8 of the rate within it.
The absolute goals of before (kafka-python >= 7,000/s, aiokafka >= 30,000/s, confluent-kafka
>= 50,000/s) are printed too.
"""

import argparse
import asyncio
import ctypes
import ctypes.util
import glob
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import free_ports  # noqa: E402  (the wire tests' own: consecutive ports)

PARTITIONS = 6
CONFLUENT_QUEUE = 100_000  # librdkafka's queue.buffering.max.messages default
RATIO_GOALS = {"confluent": 0.3, "aiokafka": 0.8}
PAST_QUEUE_GOAL = 0.8
ABSOLUTE_GOALS = {"kafka-python": 7_000, "aiokafka": 30_000, "confluent": 50_000}


def start_listener(port: int, workdir: str) -> subprocess.Popen:
    # Its own database: the room is stored as it runs (every produce request is in the room's
    # command log before its ack), and a fresh run must not restore the last run's room.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "playground.settings",
           "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "wire-bench-only-" + "x" * 40,
           "PLAYGROUND_ROOM_RECORDS_MAX": "2000000",
           "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3"}
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    proc = subprocess.Popen([sys.executable, "manage.py", "kafka_listener", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the listener did not start")


class Listener:
    """`manage.py kafka_listener` in a process of its own, on its own database."""

    def __init__(self):
        self.port = free_ports(3)
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.workdir = tempfile.mkdtemp(prefix="wire-bench-")
        self.proc = start_listener(self.port, self.workdir)

    def create_topic(self, name: str, rf: int) -> None:
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        admin.create_topics([NewTopic(name, PARTITIONS, rf)])[name].result(20)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.workdir, ignore_errors=True)


class MockCluster:
    """librdkafka's mock cluster, from the librdkafka confluent-kafka loads (its wheel's copy;
    else the system's)."""

    def __init__(self, brokers: int = 3):
        import confluent_kafka

        here = Path(confluent_kafka.__file__).resolve().parent
        found = sorted(glob.glob(str(here.parent / "confluent_kafka.libs" / "librdkafka*.so*")))
        path = found[0] if found else ctypes.util.find_library("rdkafka")
        if path is None:
            raise RuntimeError("librdkafka not found (neither confluent-kafka's copy nor the "
                               "system's)")
        lib = self.lib = ctypes.CDLL(path)
        lib.rd_kafka_conf_new.restype = ctypes.c_void_p
        lib.rd_kafka_conf_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                          ctypes.c_char_p, ctypes.c_size_t]
        lib.rd_kafka_new.restype = ctypes.c_void_p
        lib.rd_kafka_new.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p,
                                     ctypes.c_size_t]
        lib.rd_kafka_mock_cluster_new.restype = ctypes.c_void_p
        lib.rd_kafka_mock_cluster_new.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.rd_kafka_mock_cluster_bootstraps.restype = ctypes.c_char_p
        lib.rd_kafka_mock_cluster_bootstraps.argtypes = [ctypes.c_void_p]
        lib.rd_kafka_mock_topic_create.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                                   ctypes.c_int, ctypes.c_int]
        lib.rd_kafka_mock_cluster_destroy.argtypes = [ctypes.c_void_p]
        lib.rd_kafka_destroy.argtypes = [ctypes.c_void_p]
        errstr = ctypes.create_string_buffer(512)
        conf = lib.rd_kafka_conf_new()
        lib.rd_kafka_conf_set(conf, b"log_level", b"3", errstr, len(errstr))
        self.rk = lib.rd_kafka_new(0, conf, errstr, len(errstr))  # 0: RD_KAFKA_PRODUCER
        if not self.rk:
            raise RuntimeError(f"librdkafka: {errstr.value.decode()}")
        self.cluster = lib.rd_kafka_mock_cluster_new(self.rk, brokers)
        if not self.cluster:
            raise RuntimeError("librdkafka could not start a mock cluster")
        self.bootstrap = lib.rd_kafka_mock_cluster_bootstraps(self.cluster).decode()
        self.version = confluent_kafka.libversion()[0]

    def create_topic(self, name: str, rf: int) -> None:
        err = self.lib.rd_kafka_mock_topic_create(self.cluster, name.encode(), PARTITIONS, rf)
        if err:
            raise RuntimeError(f"mock cluster: creating topic {name} failed (error {err})")

    def close(self) -> None:
        self.lib.rd_kafka_mock_cluster_destroy(self.cluster)
        self.lib.rd_kafka_destroy(self.rk)


def payloads(n: int, size: int) -> list[tuple[bytes, bytes]]:
    return [(b"key-%d" % (i % 1000), (b"%08d" % i) * (size // 8) + b"x" * (size % 8))
            for i in range(n)]


# -- the clients: produce (seconds), consume from offset 0 (seconds, records read) --------------

def kafka_python_produce(bootstrap, topic, records, acks):
    from kafka import KafkaProducer

    kwargs = {} if acks is None else {"acks": "all" if acks == "all" else int(acks)}
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5,
                             batch_size=256 * 1024, **kwargs)
    t0 = time.perf_counter()
    for key, value in records:
        producer.send(topic, key=key, value=value)
    producer.flush(300)
    produced = time.perf_counter() - t0
    producer.close(5)
    return produced


def kafka_python_consume(bootstrap, topic, n):
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, fetch_max_bytes=50 * 1024 * 1024,
                             max_partition_fetch_bytes=4 * 1024 * 1024)
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, 0)
    t0 = time.perf_counter()
    got = 0
    while got < n and time.perf_counter() - t0 < 300:
        for msgs in consumer.poll(timeout_ms=1000, max_records=100_000).values():
            got += len(msgs)
    consumed = time.perf_counter() - t0
    consumer.close()
    return consumed, got


def aiokafka_produce(bootstrap, topic, records, acks):
    from aiokafka import AIOKafkaProducer

    async def main():
        kwargs = {} if acks is None else {"acks": "all" if acks == "all" else int(acks)}
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5,
                                    max_batch_size=256 * 1024, **kwargs)
        await producer.start()
        t0 = time.perf_counter()
        futures = [await producer.send(topic, key=k, value=v) for k, v in records]
        await asyncio.gather(*futures)
        produced = time.perf_counter() - t0
        await producer.stop()
        return produced

    return asyncio.run(main())


def aiokafka_consume(bootstrap, topic, n):
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def main():
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap,
                                    fetch_max_bytes=50 * 1024 * 1024,
                                    max_partition_fetch_bytes=4 * 1024 * 1024)
        await consumer.start()
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        t0 = time.perf_counter()
        got = 0
        while got < n and time.perf_counter() - t0 < 300:
            batch = await consumer.getmany(timeout_ms=1000, max_records=100_000)
            got += sum(len(m) for m in batch.values())
        consumed = time.perf_counter() - t0
        await consumer.stop()
        return consumed, got

    return asyncio.run(main())


def confluent_produce(bootstrap, topic, records, acks):
    from confluent_kafka import Producer

    config = {"bootstrap.servers": bootstrap, "partitioner": "murmur2_random",
              "linger.ms": 5}
    if acks is not None:
        config["acks"] = acks
    producer = Producer(config)
    t0 = time.perf_counter()
    for key, value in records:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:  # its queue is full: serve deliveries, then go on
                producer.poll(0.01)
    left = producer.flush(300)
    produced = time.perf_counter() - t0
    if left:
        raise RuntimeError(f"confluent-kafka: {left:,} records not delivered after 300 s")
    return produced


def confluent_consume(bootstrap, topic, n):
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-unused",
                         "enable.auto.commit": False, "fetch.max.bytes": 50 * 1024 * 1024})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    t0 = time.perf_counter()
    got = 0
    while got < n and time.perf_counter() - t0 < 300:
        got += len(consumer.consume(num_messages=10_000, timeout=1))
    consumed = time.perf_counter() - t0
    consumer.close()
    return consumed, got


def stored_records(bootstrap, topic, expected: int) -> int:
    """How many records the topic's partitions hold (their high watermarks): every record a
    run counts must have been stored, not refused (a refusal is quick)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-unused"})
    try:
        deadline = time.monotonic() + 10
        while True:
            stored = sum(consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                        timeout=20)[1]
                         for p in range(PARTITIONS))
            # With RF > 1 and acks 0 or 1, the high watermark may still be on its way.
            if stored >= expected or time.monotonic() > deadline:
                return stored
            time.sleep(0.2)
    finally:
        consumer.close()


CLIENTS = {"confluent": (confluent_produce, confluent_consume),
           "aiokafka": (aiokafka_produce, aiokafka_consume),
           "kafka-python": (kafka_python_produce, kafka_python_consume)}


def median(values):
    return statistics.median(values) if values else float("nan")


def verdict(value: float, goal: float) -> str:
    return "met" if value >= goal else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000,
                        help="records per client per round (within confluent's queue)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--big", type=int, default=1_000_000,
                        help="records of the confluent-kafka run past its queue (0: skip it)")
    parser.add_argument("--big-rounds", type=int, default=2,
                        help="runs past the queue, each paired with the same records "
                             "within it, each on a freshly started listener")
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--acks", choices=["0", "1", "all"], default=None,
                        help="default: each client's own default")
    parser.add_argument("--rf", type=int, choices=[1, 2, 3], default=1,
                        help="replication factor of the topics (3 brokers)")
    parser.add_argument("--clients", default="confluent,aiokafka",
                        help=f"some of {','.join(CLIENTS)}")
    args = parser.parse_args()
    clients = args.clients.split(",")
    unknown = [c for c in clients if c not in CLIENTS]
    if unknown:
        parser.error(f"--clients: unknown {', '.join(unknown)} (known: {', '.join(CLIENTS)})")
    if args.records > CONFLUENT_QUEUE:
        parser.error(f"--records {args.records:,}: the rounds measure the rate within "
                     f"confluent-kafka's queue ({CONFLUENT_QUEUE:,} records); --big is the run "
                     "past it")
    if args.big and args.big <= CONFLUENT_QUEUE:
        parser.error(f"--big {args.big:,}: must be past confluent-kafka's queue "
                     f"({CONFLUENT_QUEUE:,} records), or 0")
    if args.rounds < 1 or args.big_rounds < 1:
        parser.error("--rounds and --big-rounds: at least 1")
    command = (f".venv/bin/python bench/wire_throughput.py --records {args.records} --rounds "
               f"{args.rounds} --big {args.big} --big-rounds {args.big_rounds} --size "
               f"{args.size} --rf {args.rf}"
               + (f" --acks {args.acks}" if args.acks else "") + f" --clients {args.clients}")
    print(f"command: {command}")
    started = time.perf_counter()
    records = payloads(args.records, args.size)
    mock = MockCluster()
    listener = Listener()
    print(f"listener: manage.py kafka_listener --port {listener.port} (own process, DEBUG "
          f"off, SQLite), 3 brokers; mock: librdkafka {mock.version} mock cluster, 3 brokers; "
          f"topics {PARTITIONS} partitions, RF {args.rf}; acks: {args.acks or 'client default'}"
          f"; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    rates: dict[str, dict[str, list[float]]] = {
        c: {"mock": [], "listener": [], "ratio": [], "consume": []} for c in clients}
    n = len(records)
    try:
        for r in range(args.rounds):
            for name in clients:
                produce, consume = CLIENTS[name]
                topic = f"bench-{name}-{r}"
                mock.create_topic(topic, args.rf)
                on_mock = n / produce(mock.bootstrap, topic, records, args.acks)
                listener.create_topic(topic, args.rf)
                on_listener = n / produce(listener.bootstrap, topic, records, args.acks)
                consumed, got = consume(listener.bootstrap, topic, n)
                row = rates[name]
                row["mock"].append(on_mock)
                row["listener"].append(on_listener)
                row["ratio"].append(on_listener / on_mock)
                row["consume"].append(got / consumed)
                print(f"round {r + 1} {name:12} mock {on_mock:10,.0f}/s  listener "
                      f"{on_listener:9,.0f}/s  ratio {on_listener / on_mock:5.2f}  consume "
                      f"{got / consumed:9,.0f}/s ({got:,} records)", flush=True)
        listener.close()
        big: list[float] = []
        big_within: list[float] = []
        big_mock: list[float] = []
        if args.big and "confluent" in clients:
            many = payloads(args.big, args.size)
            for r in range(args.big_rounds):
                topic = f"bench-big-{r}"
                mock.create_topic(topic, args.rf)
                big_mock.append(args.big / confluent_produce(mock.bootstrap, topic, many,
                                                             args.acks))
                # The same records within the queue (in runs of --records, each flushed) and
                # past it (in one go), each to a listener of its own whose room starts empty,
                # one after the other, the order swapped every round: the same work from the
                # same start, so what differs is only the queue. (Against the rounds above
                # alone, a run ten times longer on a shared machine also meets more of its
                # slow moments than the median of short rounds does.)
                for past in (r % 2 == 1, r % 2 == 0):
                    listener = Listener()
                    listener.create_topic(topic, args.rf)
                    if past:
                        took = confluent_produce(listener.bootstrap, topic, many, args.acks)
                    else:
                        took = sum(confluent_produce(listener.bootstrap, topic,
                                                     many[i:i + n], args.acks)
                                   for i in range(0, len(many), n))
                    stored = stored_records(listener.bootstrap, topic, args.big)
                    listener.close()
                    if stored != args.big:
                        raise RuntimeError(f"the listener stored {stored:,} of {args.big:,} "
                                           "records")
                    (big if past else big_within).append(args.big / took)
                print(f"past the queue {r + 1}: confluent {args.big:,} records: mock in one go "
                      f"{big_mock[-1]:,.0f}/s; listener in one go {big[-1]:,.0f}/s, in runs of "
                      f"{n:,} within the queue {big_within[-1]:,.0f}/s, ratio "
                      f"{big[-1] / big_within[-1]:.2f}", flush=True)
            del many
    finally:
        listener.close()
        mock.close()
    print(f"\nmedians over {args.rounds} rounds of {n:,} records of {args.size} bytes "
          "(ratio: listener / same client on the mock cluster, within each round):")
    print(f"{'client':12} {'mock':>10} {'listener':>10} {'ratio':>6} {'goal':>6}   "
          f"{'consume':>10}   absolute goal")
    for name in clients:
        row = rates[name]
        ratio = median(row["ratio"])
        goal = RATIO_GOALS.get(name)
        goal_text = f">={goal}" if goal else "-"
        met = f" {verdict(ratio, goal)}" if goal else ""
        absolute = ABSOLUTE_GOALS[name]
        print(f"{name:12} {median(row['mock']):10,.0f} {median(row['listener']):10,.0f} "
              f"{ratio:6.2f} {goal_text:>6}{met:8} {median(row['consume']):10,.0f}   "
              f">= {absolute:,}/s {verdict(median(row['listener']), absolute)}")
    if big:
        paired = median([p / w for p, w in zip(big, big_within, strict=True)])
        within = median(rates["confluent"]["listener"])
        past = median(big)
        print(f"past the queue: confluent {past:,.0f}/s (median of {len(big)} runs of "
              f"{args.big:,} records in one go) = {paired:.2f} of the same records in runs "
              f"within the queue (median of the rounds' ratios); goal >= {PAST_QUEUE_GOAL} "
              f"{verdict(paired, PAST_QUEUE_GOAL)}. Against the median of the rounds above "
              f"({within:,.0f}/s): {past / within:.2f}. The mock cluster in one go: "
              f"{median(big_mock):,.0f}/s")
    print(f"took {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f} "
          "at the end")


if __name__ == "__main__":
    main()
