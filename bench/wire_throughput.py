"""Real Kafka clients against the wire listener: records per second, producing and consuming.

The listener runs as its own process (`manage.py kafka_listener` on free ports, a fresh `live`
room), so the Python clients do not share a GIL with it. Each client produces `--records`
records of `--size` bytes to its own topic (6 partitions, replication factor 1, created first),
with the client's default acks unless `--acks` says otherwise, then reads them all back from
offset 0 by assign/seek.

    .venv/bin/python bench/wire_throughput.py [--records 100000] [--size 100] [--acks 1]
        [--rf 1] [--clients kafka-python,aiokafka,confluent]

Goals on the project's 2-core machine (producing): kafka-python >= 7,000/s,
aiokafka >= 30,000/s, confluent-kafka >= 50,000/s.
"""

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import free_ports  # noqa: E402  (the wire tests' own: consecutive ports)

PARTITIONS = 6


def start_listener(port: int, workdir: str) -> subprocess.Popen:
    # Its own database: the room is stored as it runs (every produce request is in the room's
    # command log before its ack), and a fresh run must not restore the last run's room.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "playground.settings",
           "DJANGO_DEBUG": "1", "PLAYGROUND_ROOM_RECORDS_MAX": "2000000",
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


def create_topic(bootstrap: str, name: str, rf: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, PARTITIONS, rf)])[name].result(20)


def payloads(n: int, size: int) -> list[tuple[bytes, bytes]]:
    return [(b"key-%d" % (i % 1000), (b"%08d" % i) * (size // 8) + b"x" * (size % 8))
            for i in range(n)]


# -- kafka-python ---------------------------------------------------------------------------------

def kafka_python(bootstrap, topic, records, acks):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    kwargs = {} if acks is None else {"acks": "all" if acks == "all" else int(acks)}
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5,
                             batch_size=256 * 1024, **kwargs)
    t0 = time.perf_counter()
    for key, value in records:
        producer.send(topic, key=key, value=value)
    producer.flush(300)
    produced = time.perf_counter() - t0
    producer.close(5)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, fetch_max_bytes=50 * 1024 * 1024,
                             max_partition_fetch_bytes=4 * 1024 * 1024)
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, 0)
    t0 = time.perf_counter()
    got = 0
    while got < len(records):
        for msgs in consumer.poll(timeout_ms=1000, max_records=100_000).values():
            got += len(msgs)
        if time.perf_counter() - t0 > 300:
            break
    consumed = time.perf_counter() - t0
    consumer.close()
    return produced, consumed, got


# -- aiokafka -------------------------------------------------------------------------------------

def aiokafka(bootstrap, topic, records, acks):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

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
        while got < len(records) and time.perf_counter() - t0 < 300:
            batch = await consumer.getmany(timeout_ms=1000, max_records=100_000)
            got += sum(len(m) for m in batch.values())
        consumed = time.perf_counter() - t0
        await consumer.stop()
        return produced, consumed, got

    return asyncio.run(main())


# -- confluent-kafka ------------------------------------------------------------------------------

def confluent(bootstrap, topic, records, acks):
    from confluent_kafka import Consumer, Producer, TopicPartition

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
            except BufferError:
                producer.poll(0.01)
    producer.flush(300)
    produced = time.perf_counter() - t0
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-unused",
                         "enable.auto.commit": False, "fetch.max.bytes": 50 * 1024 * 1024})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    t0 = time.perf_counter()
    got = 0
    while got < len(records) and time.perf_counter() - t0 < 300:
        got += len(consumer.consume(num_messages=10_000, timeout=1))
    consumed = time.perf_counter() - t0
    consumer.close()
    return produced, consumed, got


CLIENTS = {"kafka-python": kafka_python, "aiokafka": aiokafka, "confluent": confluent}
GOALS = {"kafka-python": 7_000, "aiokafka": 30_000, "confluent": 50_000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--acks", choices=["0", "1", "all"], default=None,
                        help="default: each client's own default")
    parser.add_argument("--rf", type=int, choices=[1, 2, 3], default=1,
                        help="replication factor of the topics (3 brokers)")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    args = parser.parse_args()
    port = free_ports(3)
    bootstrap = f"127.0.0.1:{port}"
    workdir = tempfile.mkdtemp(prefix="wire-bench-")
    proc = start_listener(port, workdir)
    records = payloads(args.records, args.size)
    print(f"command: .venv/bin/python bench/wire_throughput.py --records {args.records} "
          f"--size {args.size} --rf {args.rf}" + (f" --acks {args.acks}" if args.acks else "")
          + f" --clients {args.clients}")
    print(f"listener: manage.py kafka_listener --port {port} (own process), 3 brokers; topics "
          f"{PARTITIONS} partitions, RF {args.rf}; acks: {args.acks or 'client default'}")
    try:
        for name in args.clients.split(","):
            topic = f"bench-{name}"
            create_topic(bootstrap, topic, args.rf)
            produced, consumed, got = CLIENTS[name](bootstrap, topic, records, args.acks)
            n = len(records)
            goal = GOALS[name]
            print(f"{name:13} produce {n / produced:10,.0f} records/s ({produced:6.2f} s; goal "
                  f"{goal:,}/s {'met' if n / produced >= goal else 'NOT met'})   consume "
                  f"{got / consumed:10,.0f} records/s ({consumed:6.2f} s, {got:,} records)")
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
