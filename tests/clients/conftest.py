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
