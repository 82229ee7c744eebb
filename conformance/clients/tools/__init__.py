"""Kafka's own command-line tools as the conformance harness runs them: each tool is its main
class (what bin/kafka-topics.sh etc. start) on the cached jars' classpath, and what it prints is
turned into the contract's check lines (conformance/clients/java has the same contract).

    python -m conformance.clients.tools --bootstrap HOST:PORT --prefix PREFIX [--only CHECK]

A JVM start costs ~1-2 s on the 2-core machine, so the tools run as few times as the checks
allow (~20), two at a time where nothing orders them, and the console consumer stays in its
group while the group is described. The number of invocations and their total time go to
stderr at the end.

Normalised like every client's lines: PREFIX for the prefix, no hosts, ports, topic or member
ids, timestamps as where they fall relative to the producer's run, columns of the tools' tables
as numbers or strings.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from conformance import kafka, stop_process

# The scripts in Kafka's bin/ and the main class each one runs (Kafka 4.x: all in kafka-tools).
TOOLS = {
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-configs": "org.apache.kafka.tools.ConfigCommand",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-delete-records": "org.apache.kafka.tools.DeleteRecordsCommand",
}
JVM_FLAGS = ["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto"]
KEYS = 20
TOOL_TIMEOUT_S = 60        # one tool run; the admin timeouts below end theirs sooner
CONSUME_TIMEOUT_S = 30     # the console consumer's wait for all the records
PARALLEL = 2               # the machine's cores: JVM starts are CPU-bound
# Admin-based tools give up after these instead of Kafka's 60 s default, so a listener that
# does not answer costs 15 s per tool, not a minute.
ADMIN_CONFIG = "request.timeout.ms=10000\ndefault.api.timeout.ms=15000\n"

# The checks, in the order their lines come (the contract's names; what the tools cannot do,
# e.g. idempotence or static membership, is the Java client's to check).
CHECKS = ["metadata.topics", "produce.keys", "fetch.all", "produce.headers_duplicate",
          "group.describe", "group.consume_commit", "group.lag", "group.list",
          "list_offsets.earliest_latest", "list_offsets.by_time", "group.reset_earliest",
          "admin.alter_configs", "admin.create_partitions", "admin.delete_records",
          "group.delete", "errors.bad_topic_name", "errors.unknown_topic"]


@dataclass
class Run:
    tool: str
    argv: list
    rc: int
    out: str
    err: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def exception(self) -> str | None:
        """The class of the first Java exception the tool printed, if any."""
        m = re.search(r"\b(?:org\.apache\.kafka|java|kafka)\.[\w.$]*?\.(\w+(?:Exception|Error))\b",
                      self.out + "\n" + self.err)
        return m.group(1) if m else None

    def message(self) -> str:
        """The tool's own error line (its stdout), else the last line of stderr."""
        for line in self.out.splitlines():
            if line.startswith("Error"):
                return line.strip()
        lines = [x for x in self.err.splitlines() if x.strip() and not x.startswith("\tat ")]
        return lines[-1].strip() if lines else f"exit {self.rc}"


class CheckFailed(Exception):
    def __init__(self, run: Run | None, error: str, detail: str = ""):
        super().__init__(detail)
        self.error = error
        self.detail = detail


class Tools:
    def __init__(self, bootstrap: str, prefix: str, only: list[str]):
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.only = only
        self.topic = f"{prefix}-t"
        self.group = f"{prefix}-g"
        self.java = kafka.check_java()
        self.classpath = kafka.classpath()
        self.tmp = Path(tempfile.mkdtemp(prefix="kafka-tools-"))
        self.admin_config = self.tmp / "admin.properties"
        self.admin_config.write_text(ADMIN_CONFIG)
        self.runs: list[Run] = []
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(PARALLEL)

    # -- running the tools ----------------------------------------------------------------

    def argv(self, tool: str, args: list[str]) -> list[str]:
        return [self.java, *JVM_FLAGS, *kafka.cds_flags(tool), *kafka.quiet_logging("warn"),
                "-cp", self.classpath,
                TOOLS[tool], "--bootstrap-server", self.bootstrap, *args]

    def admin_args(self, tool: str) -> list[str]:
        return [] if tool.startswith("kafka-console") else ["--command-config",
                                                            str(self.admin_config)]

    def run(self, tool: str, *args: str, input: str | None = None) -> Run:
        argv = self.argv(tool, [*self.admin_args(tool), *args])
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, input=input, capture_output=True, text=True,
                               timeout=TOOL_TIMEOUT_S,
                               stdin=None if input is not None else subprocess.DEVNULL)
            run = Run(tool, list(args), p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
        except subprocess.TimeoutExpired as e:
            run = Run(tool, list(args), -9, _text(e.stdout), _text(e.stderr) +
                      f"\n(killed after {TOOL_TIMEOUT_S} s)", time.monotonic() - t0)
        self._record(run)
        return run

    def _record(self, run: Run) -> None:
        with self.lock:
            self.runs.append(run)
        print(f"tools: {run.tool} {' '.join(run.argv)}: exit {run.rc} in {run.seconds:.1f} s",
              file=sys.stderr)
        if not run.ok:
            print(_indent(run.out + run.err), file=sys.stderr)

    def both(self, *calls):
        """Runs (tool, args...) tuples side by side; their Runs in the same order."""
        futures = [self.pool.submit(self.run, *c) for c in calls]
        return [f.result() for f in futures]

    def wanted(self, *names: str) -> bool:
        """Whether --only asks for any of `names` (check names, or areas like "group" that
        some asked-for check is in)."""
        return not self.only or any(n.startswith(p) or p.startswith(n)
                                    for n in names for p in self.only)

    def norm(self, s: str) -> str:
        return s.replace(self.prefix, "PREFIX")

    def need(self, run: Run) -> Run:
        """The run, or CheckFailed carrying what the tool said went wrong."""
        if not run.ok:
            raise CheckFailed(run, run.exception() or ("timeout" if run.rc == -9
                                                       else f"exit {run.rc}"),
                              self.norm(run.message()))
        return run

    # -- output -----------------------------------------------------------------------------

    def emit(self, check: str, body) -> None:
        """Prints one check line; `body` is a callable giving the observation."""
        if not self.wanted(check):
            return
        line: dict = {"check": check}
        try:
            line["observed"] = body()
        except CheckFailed as e:
            line.update(error=e.error, detail=e.detail)
        except Exception as e:  # a parse of output the tool did not print as expected
            line.update(error=type(e).__name__, detail=self.norm(str(e))[:500])
        print(json.dumps(line, sort_keys=True), flush=True)

    # -- the checks ---------------------------------------------------------------------------

    def main(self) -> None:
        t0 = time.monotonic()
        try:
            self.checks()
        finally:
            self.pool.shutdown()
            kafka.build_cds(JVM_FLAGS)  # once: the next runs start their JVMs faster
            total = sum(r.seconds for r in self.runs)
            print(f"tools: {len(self.runs)} tool runs, {total:.1f} s of tool time, "
                  f"{time.monotonic() - t0:.1f} s in all", file=sys.stderr)

    def checks(self) -> None:
        created = self.run("kafka-topics", "--create", "--topic", self.topic, "--partitions",
                           "3", "--replication-factor", "1")
        records = self.wanted("produce", "fetch", "group", "list_offsets", "admin")
        lines = "".join(f"i:{i}\tk{i}\tv{i}\n" for i in range(KEYS))
        # One more record with the header "h" twice (Kafka keeps both), last so that the
        # keyed records' offsets are those of the other clients' produce.keys.
        lines += "h:1,h:2\thd\tv\n"
        describe = ("kafka-topics", "--describe", "--topic", self.topic)
        described, window, produced = None, None, None
        if self.wanted("metadata.topics") and records:
            pending = self.pool.submit(self.run, *describe)  # beside the producer
            window, produced = self.produce(lines)
            described = pending.result()
        elif self.wanted("metadata.topics"):
            described = self.run(*describe)
        elif records:
            window, produced = self.produce(lines)
        self.emit("metadata.topics", lambda: self.metadata_topics(created, described))
        if not records:
            return self.error_checks()

        consumed, members, state = self.consume_in_group(produced)
        self.consumed = consumed
        self.emit("produce.keys", lambda: self.produce_keys(consumed))
        self.emit("fetch.all", lambda: self.fetch_all(consumed, window))
        self.emit("produce.headers_duplicate", lambda: self.headers_duplicate(consumed))
        self.emit("group.describe", lambda: self.group_describe(members, state))

        if self.wanted("group.consume_commit", "group.lag", "group.list"):
            self.group_offsets()
        if self.wanted("list_offsets"):
            self.list_offsets(window)
        if self.wanted("group.reset_earliest"):
            reset = self.run("kafka-consumer-groups", "--reset-offsets", "--to-earliest",
                             "--execute", "--group", self.group, "--topic", self.topic)
            self.emit("group.reset_earliest", lambda: self.reset_earliest(reset))
        if self.wanted("admin"):
            self.admin()
        dropped = (self.run("kafka-consumer-groups", "--delete", "--group", self.group)
                   if self.wanted("group.delete") else None)
        self.error_checks(after_delete=dropped)

    def group_offsets(self) -> None:
        offsets, listed = self.both(("kafka-consumer-groups", "--describe", "--group",
                                     self.group),
                                    ("kafka-consumer-groups", "--list", "--state"))
        self.emit("group.consume_commit", lambda: self.consume_commit(self.consumed, offsets))
        self.emit("group.lag", lambda: self.group_lag(offsets))
        self.emit("group.list", lambda: self.group_list(listed))

    def list_offsets(self, window) -> None:
        before, after = str(window[0] - 60_000), str(window[1] + 60_000)
        earliest, latest = self.both(("kafka-get-offsets", "--topic", self.topic, "--time", "-2"),
                                     ("kafka-get-offsets", "--topic", self.topic, "--time", "-1"))
        self.emit("list_offsets.earliest_latest",
                  lambda: {"earliest": self.offsets(earliest), "latest": self.offsets(latest)})
        early, late = self.both(("kafka-get-offsets", "--topic", self.topic, "--time", before),
                                ("kafka-get-offsets", "--topic", self.topic, "--time", after))
        self.emit("list_offsets.by_time", lambda: {"before_first": self.offsets(early),
                                                   "after_last": self.offsets(late)})

    def admin(self) -> None:
        altered = self.run("kafka-configs", "--alter", "--entity-type", "topics",
                           "--entity-name", self.topic, "--add-config", "retention.ms=3600000")
        configs, grown = self.both(("kafka-configs", "--describe", "--entity-type", "topics",
                                    "--entity-name", self.topic),
                                   ("kafka-topics", "--alter", "--topic", self.topic,
                                    "--partitions", "5"))
        self.emit("admin.alter_configs", lambda: self.alter_configs(altered, configs))
        offsets_file = self.tmp / "delete.json"
        offsets_file.write_text(json.dumps({"version": 1, "partitions": [
            {"topic": self.topic, "partition": 0, "offset": 2}]}))
        regrown, deleted = self.both(("kafka-topics", "--describe", "--topic", self.topic),
                                     ("kafka-delete-records", "--offset-json-file",
                                      str(offsets_file)))
        self.emit("admin.create_partitions", lambda: self.create_partitions(grown, regrown))
        self.emit("admin.delete_records", lambda: self.delete_records(deleted))

    def error_checks(self, after_delete: Run | None = None) -> None:
        calls = []
        if after_delete is not None:
            calls.append(("kafka-consumer-groups", "--list", "--state"))
        if self.wanted("errors.bad_topic_name"):
            calls.append(("kafka-topics", "--create", "--topic", f"{self.prefix}-bad name!",
                          "--partitions", "1", "--replication-factor", "1"))
        if self.wanted("errors.unknown_topic"):
            calls.append(("kafka-topics", "--describe", "--topic", f"{self.prefix}-missing"))
        runs = self.both(*calls)
        if after_delete is not None:
            listed = runs.pop(0)
            self.emit("group.delete", lambda: self.group_delete(after_delete, listed))
        if self.wanted("errors.bad_topic_name"):
            bad = runs.pop(0)
            self.emit("errors.bad_topic_name", lambda: self.refused(bad))
        if self.wanted("errors.unknown_topic"):
            missing = runs.pop(0)
            self.emit("errors.unknown_topic", lambda: self.refused(missing))

    # -- produce and consume ------------------------------------------------------------------

    def produce(self, lines: str):
        """The console producer, keys and headers parsed from each line; the wall-clock
        window (ms) its records' CreateTime must fall in."""
        start = int(time.time() * 1000)
        run = self.run("kafka-console-producer", "--topic", self.topic,
                       "--reader-property", "parse.key=true",
                       "--reader-property", "parse.headers=true", input=lines)
        return (start, int(time.time() * 1000)), run

    def consume_in_group(self, produced: Run):
        """The console consumer in group PREFIX-g reads every record; while it is still a
        member the group is described (--members, --state); then it is stopped (SIGTERM: its
        shutdown hook closes the consumer, which commits and leaves the group)."""
        if produced is not None and not produced.ok:
            fail = CheckFailed(produced, produced.exception() or f"exit {produced.rc}",
                               self.norm(produced.message()))
            return fail, fail, fail
        expected = KEYS + 1
        args = ["--topic", self.topic, "--group", self.group, "--from-beginning",
                "--command-property", "group.protocol=classic",
                "--timeout-ms", str(CONSUME_TIMEOUT_S * 1000)]
        for p in ("print.timestamp", "print.partition", "print.offset", "print.headers",
                  "print.key"):
            args += ["--formatter-property", f"{p}=true"]
        argv = self.argv("kafka-console-consumer", args)
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True)
        got: list[str] = []
        all_read = threading.Event()

        def reader():
            for line in proc.stdout:
                got.append(line.rstrip("\n"))
                if len(got) >= expected:
                    all_read.set()
            all_read.set()  # it exited (or closed its output) before all arrived

        err_lines: list[str] = []
        threads = [threading.Thread(target=reader, daemon=True),
                   threading.Thread(target=lambda: err_lines.extend(proc.stderr), daemon=True)]
        for t in threads:
            t.start()
        all_read.wait(CONSUME_TIMEOUT_S + 15)
        members = state = None
        if proc.poll() is None and len(got) >= expected:
            members, state = self.both(
                ("kafka-consumer-groups", "--describe", "--group", self.group, "--members"),
                ("kafka-consumer-groups", "--describe", "--group", self.group, "--state"))
        stop_process(proc, timeout_s=15)
        for t in threads:
            t.join(5)
        run = Run("kafka-console-consumer", args, proc.returncode, "\n".join(got),
                  "".join(err_lines), time.monotonic() - t0)
        self._record(run)
        if len(got) < expected:
            fail = CheckFailed(run, run.exception() or "missing records",
                               f"{len(got)} of {expected} records; "
                               + self.norm(run.message()))
            return fail, members or fail, state or fail
        return run, members, state

    def records(self, consumed) -> list[dict]:
        if isinstance(consumed, CheckFailed):
            raise consumed
        out = []
        for line in consumed.out.splitlines():
            # CreateTime:1700000000000 \t Partition:0 \t Offset:0 \t h:1,h:2 \t key \t value
            ts, part, off, headers, key, value = line.split("\t")
            ts_type, _, ts_ms = ts.rpartition(":")
            out.append({"partition": int(part.split(":")[1]), "offset": int(off.split(":")[1]),
                        "key": key, "value": value,
                        "headers": [] if headers == "NO_HEADERS"
                        else [h.split(":", 1) for h in headers.split(",")],
                        "timestamp_type": ts_type, "timestamp_ms": int(ts_ms)})
        return sorted(out, key=lambda r: (r["partition"], r["offset"]))

    def produce_keys(self, consumed) -> list[dict]:
        by_key = {r["key"]: r for r in self.records(consumed)}
        return [{"key": f"k{i}", "partition": by_key[f"k{i}"]["partition"],
                 "offset": by_key[f"k{i}"]["offset"]} if f"k{i}" in by_key
                else {"key": f"k{i}", "missing": True} for i in range(KEYS)]

    def fetch_all(self, consumed, window) -> list[dict]:
        out = []
        for r in self.records(consumed):
            ts = r.pop("timestamp_ms")
            r["timestamp"] = ("before_send" if ts < window[0] else
                              "after_ack" if ts > window[1] else "during_send")
            out.append(r)
        return out

    def headers_duplicate(self, consumed) -> dict:
        for r in self.records(consumed):
            if r["key"] == "hd":
                return {"headers": r["headers"]}
        return {"records": 0}

    # -- groups ---------------------------------------------------------------------------------

    def rows(self, run: Run, header: str) -> list[list[str]]:
        """The rows of the table whose heading starts with `header`, split on whitespace."""
        lines = self.need(run).out.splitlines()
        for i, line in enumerate(lines):
            if line.startswith(header):
                return [x.split() for x in lines[i + 1:] if x.strip()]
        raise ValueError(f"no table headed {header!r} in: {self.norm(run.out.strip())[:300]}")

    def group_describe(self, members, state) -> dict:
        if isinstance(members, CheckFailed):
            raise members
        if members is None:
            raise CheckFailed(None, "consumer exited", "the console consumer left early")
        # GROUP COORDINATOR (ID) ASSIGNMENT-STRATEGY STATE #MEMBERS: the coordinator column
        # has a space in it, so read from the right.
        s = self.rows(state, "GROUP")[0]
        m = self.rows(members, "GROUP")  # GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS
        return {"state": s[-2], "assignor": s[-3], "members": int(s[-1]),
                "assigned_counts": sorted(int(r[-1]) for r in m),
                "client_ids": sorted(self.norm(r[3]) for r in m)}

    def consume_commit(self, consumed, offsets) -> dict:
        records = self.records(consumed)
        rows = self.rows(offsets, "GROUP")
        return {"records": len(records),
                "committed": {r[2]: _int(r[3]) for r in rows if r[1] == self.topic}}

    def group_lag(self, offsets) -> dict:
        # GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
        rows = self.rows(offsets, "GROUP")
        return {"partitions": {r[2]: {"committed": _int(r[3]), "end": _int(r[4]),
                                      "lag": _int(r[5])} for r in rows},
                "active_member": any(r[6] != "-" for r in rows),
                "note": self.norm(offsets.err.strip().splitlines()[-1])
                if offsets.err.strip() else None}

    def group_list(self, listed) -> dict:
        for r in self.rows(listed, "GROUP"):
            if r[0] == self.group:
                return {"listed": True, "state": r[1]}
        return {"listed": False}

    def reset_earliest(self, reset) -> dict:
        rows = self.rows(reset, "GROUP")  # GROUP TOPIC PARTITION NEW-OFFSET
        return {"new_offsets": {r[2]: _int(r[3]) for r in rows}}

    def group_delete(self, dropped, listed) -> dict:
        out = self.need(dropped).out.strip()
        return {"output": self.norm(out), "listed_after": self.group_list(listed)["listed"]}

    # -- offsets, configs, partitions ------------------------------------------------------------

    def offsets(self, run: Run) -> dict:
        out = {}
        for line in self.need(run).out.splitlines():  # TOPIC:PARTITION:OFFSET
            topic, part, off = line.rsplit(":", 2)
            out[part] = _int(off) if off else None
        return out

    def describe_topic(self, run: Run) -> dict:
        lines = self.need(run).out.splitlines()
        head = dict(f.split(": ", 1) for f in lines[0].split("\t") if ": " in f)
        configs = {}
        for kv in filter(None, head.get("Configs", "").split(",")):
            k, _, v = kv.partition("=")
            # A Kafka 4 node is formatted with min.insync.replicas=1 as a dynamic cluster
            # default, which kafka-topics lists; the same value is the playground's default.
            if k != "min.insync.replicas":
                configs[k] = v
        parts = []
        for line in lines[1:]:
            f = dict(x.split(": ", 1) for x in line.strip().split("\t") if ": " in x)
            parts.append({"partition": int(f["Partition"]),
                          "leader": "none" if f.get("Leader") in (None, "none", "-1")
                          else "present",
                          "replicas": len(f.get("Replicas", "").split(",")),
                          "isr": len(list(filter(None, f.get("Isr", "").split(","))))})
        return {"topic": self.norm(head.get("Topic", "")),
                "partition_count": int(head["PartitionCount"]),
                "replication_factor": int(head["ReplicationFactor"]),
                "configs": configs, "partitions": parts}

    def metadata_topics(self, created, described) -> dict:
        return {"created": self.norm(self.need(created).out.strip()),
                **self.describe_topic(described)}

    def alter_configs(self, altered, configs) -> dict:
        dynamic = {}
        # "  retention.ms=3600000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:...}"
        for line in self.need(configs).out.splitlines()[1:]:
            m = re.match(r"\s*([\w.]+)=(\S*) sensitive=(\w+) synonyms=\{(.*)\}$", line)
            if m:
                dynamic[m.group(1)] = {"value": m.group(2), "sensitive": m.group(3),
                                       "synonyms": self.norm(m.group(4))}
        return {"alter": self.norm(self.need(altered).out.strip()),
                "heading": self.norm(configs.out.splitlines()[0]) if configs.out else None,
                "dynamic": dynamic}

    def create_partitions(self, grown, regrown) -> dict:
        self.need(grown)
        d = self.describe_topic(regrown)
        return {"partition_count": d["partition_count"],
                "leaders": sorted({p["leader"] for p in d["partitions"]}),
                "configs": d["configs"]}

    def delete_records(self, deleted) -> dict:
        out = {}
        for line in self.need(deleted).out.splitlines():
            m = re.match(r"partition: (\S+)\s+(low_watermark: (\d+)|error: (.*))", line)
            if m:
                out[self.norm(m.group(1))] = int(m.group(3)) if m.group(3) else m.group(4)
        return {"low_watermarks": out}

    def refused(self, run: Run) -> dict:
        """What a refused tool run shows its user: exit code, exception, its error line."""
        return {"exit": run.rc, "exception": run.exception(),
                "message": self.norm(run.message())}


def _int(s: str):
    return None if s in ("-", "") else int(s)


def _text(b) -> str:
    return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")


def _indent(s: str) -> str:
    return "\n".join("    " + x for x in s.strip().splitlines()[-20:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.clients.tools",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--only", help="run only checks whose names start with this "
                                       "(comma-separated prefixes)")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", args.prefix):
        parser.error(f"--prefix must be 1-100 of [A-Za-z0-9._-], got {args.prefix!r}")
    try:
        tools = Tools(args.bootstrap, args.prefix,
                      [p for p in (args.only or "").split(",") if p])
    except kafka.ToolchainMissing as e:
        print(f"conformance.clients.tools: {e}", file=sys.stderr)
        return 3
    tools.main()
    return 0
