"""`python -m broker_core run ...` in real subprocesses: output, exit codes, determinism."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(*args, hash_seed="0", cwd=None):
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return subprocess.run([sys.executable, "-m", "broker_core", *args], capture_output=True,
                          text=True, env=env, cwd=cwd or ROOT, timeout=60)


def test_summary_of_a_builtin():
    result = cli("run", "amazon-orders")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert out.startswith("amazon-orders: Amazon: an order is placed\n")
    assert "61 produced, 61 acknowledged" in out and "0 lost" in out
    for group in ("inventory", "seller", "notification", "invoice", "delivery"):
        row = next(line for line in out.splitlines() if line.startswith(group + " "))
        assert row.split()[1:] == ["61", "0", "0", "0", "0", "0"]


def test_sync_vs_async_summary_prints_both_waits():
    result = cli("run", "amazon-sync-vs-async")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    sync = next(x for x in lines if x.startswith("customer's wait, synchronous"))
    asynchronous = next(x for x in lines if x.startswith("customer's wait, asynchronous"))
    assert "min 1,300 ms" in sync and "over 180 records" in sync
    assert "max 20 ms" in asynchronous and "over 180 records" in asynchronous


def test_jsonl_is_one_event_per_line_and_the_same_under_any_hash_seed():
    runs = [cli("run", "rebalance", "--jsonl", "--until", "45s", "--seed", "3", hash_seed=h)
            for h in ("0", "1", "4242")]
    for r in runs:
        assert r.returncode == 0, r.stderr
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout
    events = [json.loads(line) for line in runs[0].stdout.splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert max(e["t_ms"] for e in events) <= 45_000 and len(events) > 1_000
    compact = [json.dumps(e, separators=(",", ":"), ensure_ascii=False) for e in events]
    assert runs[0].stdout == "".join(line + "\n" for line in compact)


def test_seed_changes_the_run():
    a = cli("run", "rebalance", "--jsonl", "--until", "20s", "--seed", "1")
    b = cli("run", "rebalance", "--jsonl", "--until", "20s", "--seed", "2")
    assert a.returncode == b.returncode == 0
    assert a.stdout != b.stdout


def test_a_json_and_a_yaml_file(tmp_path):
    doc = {"name": "tiny", "brokers": 1, "duration": "5s",
           "topics": [{"name": "t", "partitions": 2}],
           "groups": [{"name": "g", "topics": ["t"], "consumers": 1}],
           "timeline": [{"at_ms": 1000, "command": {"type": "produce", "topic": "t",
                                                    "key": "k", "value": "v"}}]}
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(doc))
    result = cli("run", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("tiny: tiny\n") and "1 produced" in result.stdout
    yaml_path = tmp_path / "tiny.yaml"
    yaml_path.write_text("brokers: 1\ntimeline:\n  - at_ms: 0\n    command: {type: topic.create,"
                         " name: t}\n")
    result = cli("run", str(yaml_path), "--jsonl")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["topic"] for e in events if e["type"] == "topic.created"] == ["t"]


def test_default_duration_is_a_minute_after_the_last_timeline_command(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"brokers": 1, "timeline": [
        {"at_ms": 30_000, "command": {"type": "topic.create", "name": "t"}}]}))
    result = cli("run", str(path))
    assert result.returncode == 0, result.stderr
    assert "90.0 s of virtual time" in result.stdout


def _bad(result, *needles):
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_bad_input_exits_2_with_a_message_and_no_traceback(tmp_path):
    _bad(cli("run", "netflix"), "'netflix' is neither a built-in scenario nor a file",
         "amazon-orders")
    _bad(cli("run", "signup", "--until", "5y"), "--until", "90s")
    _bad(cli("run", "signup", "--until", "0s"), "--until")
    _bad(cli("run", "signup", "--seed", "x"), "--seed", "whole number")
    _bad(cli("run"), "SCENARIO")
    _bad(cli("walk", "signup"), "invalid choice")
    broken = tmp_path / "broken.json"
    broken.write_text('{"brokers": 1, ')
    _bad(cli("run", str(broken)), "not valid JSON")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    _bad(cli("run", str(binary)), "cannot read")
    _bad(cli("run", str(tmp_path)), "neither a built-in scenario nor a file")
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("brokers: 40\ntopics:\n  - {name: a, partitions: 0}\ntimeline:\n"
                       "  - {at_ms: 5, command: {type: topic.explode}}\nextra: 1\n")
    _bad(cli("run", str(invalid)), "$.brokers:", "$.topics[0].partitions:",
         "$.timeline[0].command.type:", "$.extra:")


@pytest.mark.skipif(not Path("/usr/bin/head").exists(), reason="needs head(1)")
def test_a_closed_pipe_ends_quietly():
    result = subprocess.run(f"{sys.executable} -m broker_core run rebalance --jsonl | head -2",
                            shell=True, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert len(result.stdout.splitlines()) == 2
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
