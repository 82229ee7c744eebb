"""Shared by the client tests: the Java toolchain and Kafka's jars (skip when missing, fail under
CI=true), and running one conformance program into {check: line}."""

import json
import os
import subprocess
import time

import pytest

from tests.conftest import ROOT, in_ci


def _unavailable(why: str):
    if in_ci():
        pytest.fail(f"{why}; CI must run this test, so it fails instead of skipping")
    pytest.skip(f"{why}; skipped locally, under CI=true this fails")


@pytest.fixture(scope="session")
def kafka_jars():
    """Kafka's jars resolved (Maven Central once, then .cache/conformance) with a Java 17+
    JDK: the classpath string. Skips (fails under CI) when java, javac or mvn is missing or
    Maven cannot resolve them."""
    from conformance import kafka
    from conformance.clients import java

    try:
        kafka.check_java()
        java.javac()
        return kafka.classpath()
    except kafka.ToolchainMissing as e:
        _unavailable(str(e))
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        _unavailable(f"Kafka's jars could not be fetched: {str(e)[:500]}")


def run_program(argv: list[str], timeout_s: float) -> tuple[dict, str, float]:
    """Runs a conformance program: ({check: its JSON line}, its stderr, seconds). A program
    that exits non-zero or prints a line that is not one JSON object fails the test."""
    t0 = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s,
                          stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seconds = time.monotonic() - t0
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stderr[-4000:]}"
    lines = {}
    for raw in done.stdout.splitlines():
        line = json.loads(raw)
        assert set(line) in ({"check", "observed"}, {"check", "error", "detail"},
                             {"check", "skip"}), raw
        lines[line["check"]] = line
    return lines, done.stderr, seconds


def observed(lines: dict, check: str):
    """The observation of `check`, or a failure showing what the program saw instead."""
    line = lines.get(check)
    assert line is not None, f"{check}: not printed (printed: {sorted(lines)})"
    assert "observed" in line, f"{check}: {line}"
    return line["observed"]


def prepared(what: str, prepare) -> None:
    """Run `prepare()` (a go build, an npm ci): skips (fails under CI) when its toolchain is
    missing, fails when it does not finish."""
    from conformance.kafka import ToolchainMissing

    t0 = time.monotonic()
    try:
        prepare()
    except ToolchainMissing as e:
        _unavailable(str(e))
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{what} did not finish: {e}")
    print(f"{what} ready in {time.monotonic() - t0:.1f} s")


def run_against_listener(command, prefix: str, checks, topic: str, timeout_s: float):
    """A conformance program (`command(bootstrap, prefix, only)`) run once against a fresh
    in-process listener: (its lines, {partition: [keys in offset order]} of `topic` (3
    partitions) in the listener's model after the run)."""
    from broker_core import reads
    from tests.kafka.conftest import Live

    live = Live()
    try:
        lines, _, seconds = run_program(command(live.bootstrap, prefix, ",".join(checks)),
                                        timeout_s)
        print(f"{prefix} program: {seconds:.1f} s")

        def model_keys():
            return {p: [r[1] for r in reads.records(live.room.cluster, topic, p, 0,
                                                    10 << 20)["records"]] for p in range(3)}

        return lines, live.call(model_keys)
    finally:
        live.close()


# The keys the workflow programs produce (k0 ... k19, value "v" + the number), to 3 partitions.
KEYS = [f"k{i}" for i in range(20)]


def key_layout(partition_of) -> dict[int, list[str]]:
    """{partition: [keys in send order]} when `partition_of(key, 3)` picks each key's partition
    (the client's default partitioner)."""
    return {p: [k for k in KEYS if partition_of(k, 3) == p] for p in range(3)}


def assert_reads_back(lines: dict, layout: dict[int, list[str]]) -> None:
    """fetch.all: every record where it was written, with the producer's create time."""
    fetched = observed(lines, "fetch.all")
    assert fetched["records"] == [
        {"partition": p, "offset": i, "key": k, "value": "v" + k[1:], "headers": []}
        for p, keys in layout.items() for i, k in enumerate(keys)]
    assert fetched["timestamps"] == {"during_produce": 20}


def assert_group_read_and_committed_everything(lines: dict, model: dict) -> None:
    """group.consume_commit: the group read all 20 records and committed each partition's end."""
    ends = {str(p): len(keys) for p, keys in model.items()}
    assert observed(lines, "group.consume_commit") == {"read": 20, "commit": "ok",
                                                       "committed": ends}
