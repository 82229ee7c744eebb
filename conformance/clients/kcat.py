"""Conformance checks for kcat (Debian's /usr/bin/kcat, librdkafka inside): a Python driver that
runs the kcat command lines an engineer would type (-P, -C -J, -G, -L -J, -Q, -o s@...) and
normalises what they print.

    python -m conformance.clients.kcat --bootstrap HOST:PORT --prefix PREFIX [--only X]

kcat cannot create topics, so the topics it uses are created by confluent-kafka's AdminClient
(the same librdkafka) before kcat touches them; kcat has no group or admin commands, so those
checks skip. kcat prints errors as librdkafka's messages ("Broker: Message size too large"), so
those are what the errors.* checks observe, with sizes and names taken out.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from confluent_kafka.admin import AdminClient, NewTopic

from conformance.clients.common import (
    RECORD_COUNT,
    Program,
    RunState,
    Skip,
    Window,
    elapsed_bucket,
    log,
    wait_until,
)

program = Program("kcat")
# How long one kcat command may run. A consumer with -e exits at the end of its partitions; a
# group consumer first waits for the group's initial rebalance delay (3 s).
RUN_TIMEOUT_S = 30.0
# kcat's -m: how long it waits for metadata, and for transaction init/commit.
METADATA_TIMEOUT_S = 10


class State(RunState):
    kcat = ""
    admin: AdminClient | None = None
    tmp: tempfile.TemporaryDirectory | None = None


S = State()


ERROR_WORDS = re.compile(r"ERROR|[Ff]ailed|[Ee]rror")
LOG_LINE = re.compile(r"^[0-3]\|\d+\.\d+\|")


def normalise(line: str) -> str:
    """A kcat/librdkafka message without what changes between runs: its time, sizes, hosts and
    ports, client instance numbers, the run's prefix."""
    line = re.sub(r"^([0-7])\|\d+\.\d+\|", r"\1|", line.lstrip("% ").strip())
    line = re.sub(r"\(\d+ bytes\)", "(N bytes)", line)
    line = re.sub(r"\d+\.\d+\.\d+\.\d+:\d+(/\d+)?", "HOST", line)
    line = re.sub(r"rdkafka#(producer|consumer)-\d+", r"rdkafka#\1", line)
    return line.replace(S.prefix, "PREFIX")


class Run:
    def __init__(self, rc: int | None, out: str, err: str, seconds: float):
        self.rc, self.out, self.err, self.seconds = rc, out, err, seconds

    def json_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.out.splitlines() if line.startswith("{")]

    def errors(self) -> list[str]:
        """kcat's error lines, without sizes, names or ids: what to compare."""
        lines = []
        for line in self.err.splitlines():
            # kcat's own messages start with "%"; librdkafka's log lines with
            # "LEVEL|SECONDS.MS|FACILITY|" (level 0-3: emergency to error).
            if LOG_LINE.match(line) or (line.startswith("%") and ERROR_WORDS.search(line)):
                lines.append(normalise(line))
        return sorted(set(lines))


def kcat(*args: str, stdin: str | None = None, timeout: float = RUN_TIMEOUT_S) -> Run:
    argv = [S.kcat, "-b", S.bootstrap, "-m", str(METADATA_TIMEOUT_S), *args]
    started = time.monotonic()
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout)
        run = Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
    except subprocess.TimeoutExpired as exc:
        run = Run(None, exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or "",
                  exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or "",
                  time.monotonic() - started)
    log(f"kcat {' '.join(args)} -> rc {run.rc} in {run.seconds:.2f}s")
    if run.err.strip():
        log("  " + run.err.strip().replace("\n", "\n  ")[:2000])
    return run


def create_topic(name: str, partitions: int) -> None:
    """kcat has no way to create a topic: librdkafka's admin API does it (stderr says so)."""
    S.admin.create_topics([NewTopic(name, partitions, 1)])[name].result(RUN_TIMEOUT_S)
    log(f"created {name} ({partitions} partitions) with confluent-kafka's AdminClient")

    def visible():
        topic = S.admin.list_topics(name, timeout=10).topics.get(name)
        return topic is not None and topic.error is None and len(topic.partitions) == partitions
    wait_until(visible)


def consume_all(topic: str, *extra: str) -> Run:
    return kcat("-C", "-t", topic, "-o", "beginning", "-e", "-J", *extra)


def row(m: dict) -> list:
    headers = m.get("headers") or []
    return [m["partition"], m["offset"], m.get("key"), m.get("payload"),
            [[headers[i], headers[i + 1]] for i in range(0, len(headers), 2)],
            S.window.relate(m.get("ts")) if S.window else m.get("ts"), m.get("tstype")]


QUERY_LINE = re.compile(r"^(?P<topic>.+) \[(?P<partition>\d+)\] offset (?P<offset>-?\d+)$")


def query(topic: str, timestamps: dict[int, int]) -> list:
    """kcat -Q: each partition's offset for a timestamp (-1 latest, -2 earliest)."""
    args = []
    for p, ts in timestamps.items():
        args += ["-t", f"{topic}:{p}:{ts}"]
    run = kcat("-Q", *args)
    found = []
    for line in run.out.splitlines():
        m = QUERY_LINE.match(line.strip())
        if m:
            found.append([int(m["partition"]), int(m["offset"])])
    return sorted(found) if found else {"rc": run.rc, "errors": run.errors()}


# -- metadata and produce/fetch ---------------------------------------------------------------

@program.check("metadata.topics")
def metadata_topics():
    create_topic(S.name("t"), 3)
    run = kcat("-L", "-J", "-t", S.name("t"))
    listing = json.loads(run.out)
    return {"topics": sorted([S.short(t["topic"]), len(t["partitions"]), t.get("error")]
                             for t in listing["topics"])}


@program.check("produce.keys", needs=("metadata.topics",))
def produce_keys():
    """kcat -P prints no partition per message: what it produced is read back with -C."""
    lines = "".join(f"k{i}:v{i}\n" for i in range(RECORD_COUNT))
    S.window = Window()
    run = kcat("-P", "-t", S.name("t"), "-K", ":", "-H", "src=kcat", stdin=lines)
    S.window.close()
    if run.rc != 0:
        return {"rc": run.rc, "errors": run.errors()}
    got = consume_all(S.name("t")).json_lines()
    return {m["key"]: [m["partition"], m["offset"]] for m in got}


@program.check("fetch.all", needs=("produce.keys",))
def fetch_all():
    run = consume_all(S.name("t"))
    return {"rc": run.rc, "records": sorted(row(m) for m in run.json_lines())}


@program.check("produce.headers_duplicate")
def produce_headers_duplicate():
    topic = S.name("h")
    create_topic(topic, 1)
    kcat("-P", "-t", topic, "-H", "h=1", "-H", "h=2", stdin="x\n")
    return [row(m)[4] for m in consume_all(topic).json_lines()]


@program.check("produce.compression")
def produce_compression():
    """kcat -P -z with each codec: produced and read back."""
    out = {}
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        topic = S.name(f"z-{codec}")
        create_topic(topic, 1)
        run = kcat("-P", "-t", topic, "-z", codec,
                   stdin="".join(f"{codec * 20}{i}\n" for i in range(3)))
        out[codec] = run.errors() or [[m["offset"], m["payload"][-1]]
                                      for m in consume_all(topic).json_lines()]
    return out


@program.check("list_offsets.earliest_latest", needs=("produce.keys",))
def list_offsets_earliest_latest():
    return {"earliest": query(S.name("t"), {p: -2 for p in range(3)}),
            "latest": query(S.name("t"), {p: -1 for p in range(3)})}


@program.check("list_offsets.by_time", needs=("produce.keys",))
def list_offsets_by_time():
    before, after = S.window.start - 1, S.window.end + 1
    out = {"query_before_first": query(S.name("t"), {p: before for p in range(3)}),
           "query_after_last": query(S.name("t"), {p: after for p in range(3)})}
    for label, ts in (("consume_from_before_first", before), ("consume_from_after_last", after)):
        run = kcat("-C", "-t", S.name("t"), "-o", f"s@{ts}", "-e", "-J")
        out[label] = {"rc": run.rc, "records": len(run.json_lines()), "errors": run.errors()}
    return out


# -- groups ----------------------------------------------------------------------------------

END_LINE = re.compile(r"Reached end of topic (?P<topic>.+) \[(?P<p>\d+)\] at offset (?P<o>\d+)")


@program.check("group.consume_commit", needs=("produce.keys",))
def group_consume_commit():
    """kcat -G reads the topic in group PREFIX-g and commits as it exits; a second run of the
    same group starts from those commits (so reads nothing)."""
    out = {}
    for label in ("first_run", "second_run"):
        run = kcat("-G", S.name("g"), "-X", "auto.offset.reset=earliest", "-e", "-J",
                   S.name("t"))
        ends = sorted([int(m["p"]), int(m["o"])] for m in END_LINE.finditer(run.err))
        out[label] = {"rc": run.rc, "records": len(run.json_lines()), "ends": ends}
    return out


NO_GROUP_ADMIN = "kcat has no consumer-group admin commands (describe, list, lag, reset, delete)"


@program.check("group.describe")
def group_describe():
    raise Skip(NO_GROUP_ADMIN)


@program.check("group.list")
def group_list():
    raise Skip(NO_GROUP_ADMIN)


@program.check("group.lag")
def group_lag():
    raise Skip(NO_GROUP_ADMIN)


@program.check("group.reset_earliest")
def group_reset_earliest():
    raise Skip(NO_GROUP_ADMIN)


@program.check("group.delete")
def group_delete():
    raise Skip(NO_GROUP_ADMIN)


# -- admin -------------------------------------------------------------------------------------

NO_ADMIN = "kcat has no admin commands (partitions, configs, records)"


@program.check("admin.create_partitions")
def admin_create_partitions():
    raise Skip(NO_ADMIN)


@program.check("admin.alter_configs")
def admin_alter_configs():
    raise Skip(NO_ADMIN)


@program.check("admin.delete_records")
def admin_delete_records():
    raise Skip(NO_ADMIN)


# -- errors ------------------------------------------------------------------------------------

@program.check("errors.bad_topic_name")
def errors_bad_topic_name():
    run = kcat("-P", "-t", S.name("bad name!"), stdin="x\n")
    return {"rc": run.rc, "errors": run.errors()}


@program.check("errors.unknown_topic")
def errors_unknown_topic():
    """kcat -L -t of a missing topic, kcat -P to another with allow.auto.create.topics=false;
    and whether either created its topic after all."""
    missing, missing_p = S.name("missing"), S.name("missing-p")
    listing = json.loads(kcat("-L", "-J", "-t", missing).out or "{}")
    produce = kcat("-P", "-t", missing_p, "-X", "allow.auto.create.topics=false",
                   "-X", "message.timeout.ms=5000", stdin="x\n")
    time.sleep(1)  # Kafka creates an auto-created topic asynchronously
    topics = {t["topic"] for t in json.loads(kcat("-L", "-J").out or "{}").get("topics", [])}
    return {"list": [t.get("error") for t in listing.get("topics", [])],
            "produce_no_autocreate": {"rc": produce.rc, "errors": produce.errors()},
            "exists_after": {"list": missing in topics, "produce": missing_p in topics}}


@program.check("errors.too_large")
def errors_too_large():
    topic = S.name("big")
    create_topic(topic, 1)
    out = {}
    raised = ("-X", f"message.max.bytes={4 * 1024 * 1024}", "-X", "message.timeout.ms=10000")
    cases = (("2MiB_client_default", 2 * 1024 * 1024, ()),
             ("2MiB_to_broker", 2 * 1024 * 1024, raised),
             # Kafka counts the whole batch (61 B header + record overhead) against
             # message.max.bytes (1048588): a 1048544 B value makes a 1048616 B batch.
             ("1048544B_to_broker", 1048544, raised))
    for label, size, extra in cases:
        path = os.path.join(S.tmp.name, f"{size}.bin")
        with open(path, "wb") as f:
            f.write(b"\x00" * size)
        run = kcat("-P", "-t", topic, *extra, path)  # a file argument is one message
        out[label] = {"rc": run.rc, "errors": run.errors()}
    return out


@program.check("errors.transactional")
def errors_transactional():
    run = kcat("-P", "-t", S.name("t"), "-X", f"transactional.id={S.name('tx')}", stdin="tx\n")
    return {"rc": run.rc, "errors": run.errors(),
            "after": elapsed_bucket(run.seconds if run.seconds < 10 and run.rc is not None
                                    else None)}


@program.check("idempotence.basic")
def idempotence_basic():
    topic = S.name("idem")
    create_topic(topic, 1)
    run = kcat("-P", "-t", topic, "-X", "enable.idempotence=true",
               stdin="".join(f"i{i}\n" for i in range(10)))
    got = consume_all(topic).json_lines()
    return {"rc": run.rc, "read": [[m["offset"], m["payload"]] for m in got]}


def setup():
    S.prefix, S.bootstrap = program.args.prefix, program.args.bootstrap
    S.kcat = shutil.which("kcat") or ""
    if not S.kcat:
        sys.exit("kcat is not installed (Debian: apt-get install kcat)")
    S.admin = AdminClient({"bootstrap.servers": S.bootstrap})
    S.tmp = tempfile.TemporaryDirectory(prefix="kcat-conformance-")


def teardown():
    if S.tmp is not None:
        S.tmp.cleanup()


if __name__ == "__main__":
    sys.exit(program.main(setup=setup, teardown=teardown))
