"""The Python conformance programs (conformance/clients/: kafka-python, aiokafka,
confluent-kafka, and kcat driven from Python) against the in-process playground listener: each
runs to the end, prints one well-formed line per check, and the workflow an application needs
(produce with the client's partitioner, read back, consume in a group and commit, describe the
group, reset its offsets) is observed without error."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, require_program
from tests.kafka.conftest import Live

PROGRAMS = ("kafka_python", "aiokafka_client", "confluent", "kcat")
# A whole program against the playground takes 20-50 s (group joins wait the initial rebalance
# delay, the static-member check waits out a session); bounded so a hang fails the test.
RUN_TIMEOUT_S = 400
WORKFLOW = ("produce.keys", "fetch.all", "group.consume_commit", "group.describe",
            "group.reset_earliest")
# What kcat cannot do at all (no group admin): these skip, with this reason.
KCAT_SKIPS = {"group.describe", "group.reset_earliest"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every program run once, all at the same time, against one listener: {program: (exit
    code, stdout, stderr)}; kcat's only when kcat is installed."""
    live = Live()
    tmp = tmp_path_factory.mktemp("programs")
    procs = {}
    try:
        for name in PROGRAMS:
            if name == "kcat" and not shutil.which("kcat"):
                continue
            err = (tmp / f"{name}.err").open("wb")
            procs[name] = (subprocess.Popen(
                [sys.executable, "-m", f"conformance.clients.{name}", "--bootstrap",
                 live.bootstrap, "--prefix", f"pytest-{name}"], cwd=ROOT, stdout=subprocess.PIPE,
                stderr=err, env={**os.environ, "PYTHONUNBUFFERED": "1"}), err)
        deadline = time.monotonic() + RUN_TIMEOUT_S
        results = {}
        for name, (proc, err) in procs.items():
            try:
                out, _ = proc.communicate(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            err.close()
            results[name] = (proc.returncode, out.decode(), (tmp / f"{name}.err").read_text())
        yield results
    finally:
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
        live.close()


def result(runs: dict, program: str) -> tuple[int, str, str]:
    if program == "kcat":
        require_program("kcat", "apt-get install kcat")
    return runs[program]


def parse(stdout: str) -> dict[str, dict]:
    lines = {}
    for raw in stdout.splitlines():
        line = json.loads(raw)  # every stdout line is one JSON object
        outcome = set(line) - {"check", "detail"}
        assert len(outcome) == 1 and outcome <= {"observed", "error", "skip"}, raw
        assert line["check"] not in lines, f"{line['check']} printed twice"
        lines[line["check"]] = line
    return lines


@pytest.mark.parametrize("program", PROGRAMS)
def test_program_runs_every_check_to_the_end(runs, program):
    code, out, err = result(runs, program)
    assert code == 0, err[-3000:]
    lines = parse(out)
    # The checks run in a fixed order and the last one printed: nothing stopped the program.
    assert list(lines)[0] == "metadata.topics"
    assert list(lines)[-1] == "idempotence.basic", err[-3000:]
    timeouts = [c for c, line in lines.items() if line.get("error") == "CheckTimeout"]
    assert not timeouts, f"checks that hung: {timeouts}"


@pytest.mark.parametrize("program", PROGRAMS)
def test_program_observes_the_workflow(runs, program):
    code, out, err = result(runs, program)
    lines = parse(out)
    for check in WORKFLOW:
        line = lines.get(check)
        assert line is not None, f"{check} missing:\n{err[-3000:]}"
        if program == "kcat" and check in KCAT_SKIPS:
            assert "skip" in line, line
            continue
        assert "observed" in line, line

    keys = lines["produce.keys"]["observed"]
    assert sorted(keys) == sorted(f"k{i}" for i in range(20))
    placed = sorted(tuple(v) for v in keys.values())
    assert len(set(placed)) == 20 and {p for p, _ in placed} <= {0, 1, 2}

    fetched = lines["fetch.all"]["observed"]
    records = fetched["records"] if program == "kcat" else fetched
    assert sorted((r[2], r[3]) for r in records) == sorted((f"k{i}", f"v{i}")
                                                           for i in range(20))
    # Each record read back from where the producer's partitioner put it.
    assert {r[2]: [r[0], r[1]] for r in records} == keys

    consumed = lines["group.consume_commit"]["observed"]
    if program == "kcat":
        assert consumed["first_run"]["records"] == 20
        assert consumed["second_run"]["records"] == 0  # the first run's commits held
        return
    assert consumed["records"] == 20
    ends = {}
    for p, _ in placed:
        ends[p] = ends.get(p, 0) + 1
    assert dict(consumed["committed"]) == ends

    described = lines["group.describe"]["observed"]
    assert described["members"] == 1 and described["assigned_partitions"] == [3]
    assert str(described["state"]).lower() == "stable"

    reset = lines["group.reset_earliest"]["observed"]
    assert [offset for *_, offset in reset["committed"]] == [0, 0, 0]
