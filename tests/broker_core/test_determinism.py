"""Same seed and commands at the same virtual times: the same events, byte for byte.

The schedules here are generated from the seed (a stand-in for a scenario), run several ways
that must not matter: again, with virtual time advanced in different slices, and in fresh
interpreters with different PYTHONHASHSEED values.
"""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from broker_core import Cluster
from broker_core.checkers import EventChecker, digest

ROOT = Path(__file__).resolve().parents[2]
SEEDS = range(40)


def schedule(seed: int) -> list[tuple[int, dict]]:
    """A busy, seed-derived run: topics, workloads, groups joining, leaving and crashing."""
    rng = random.Random(f"schedule/{seed}")
    out = [(0, {"type": "topic.create", "name": "orders", "partitions": rng.randint(1, 6),
                "replication_factor": rng.randint(1, 3)}),
           (0, {"type": "group.configure", "group": "billing",
                "assignor": rng.choice(["range", "roundrobin", "sticky",
                                        "cooperative-sticky"])}),
           (0, {"type": "producer.add", "id": "shop", "topic": "orders",
                "rate_per_s": rng.choice([5, 20, 100]),
                "keys": rng.choice([{"kind": "sequence"}, {"kind": "null"},
                                    {"kind": "hot", "count": 20, "hot_keys": 2}])})]
    t = 0
    members = []
    for i in range(12):
        t += rng.randint(0, 8_000)
        roll = rng.random()
        if roll < 0.45 or not members:
            mid = f"c{i}"
            members.append(mid)
            out.append((t, {"type": "consumer.add", "group": rng.choice(["billing", "audit"]),
                            "id": mid, "topics": ["orders"],
                            "processing_ms": rng.choice([0, 3, 40]),
                            "commit": rng.choice(["after", "before", "auto"])}))
        elif roll < 0.6:
            out.append((t, {"type": "produce", "topic": "orders", "key": f"k{i}",
                            "value": "by hand", "acks": rng.choice(["0", "1", "all"])}))
        elif roll < 0.75:
            out.append((t, {"type": "topic.add_partitions", "name": "orders",
                            "partitions": 7 + i}))
        else:
            mid = members.pop(rng.randrange(len(members)))
            kind = rng.choice(["consumer.remove", "consumer.crash"])
            out.append((t, {"type": kind, "group": "?", "id": mid}))
    return out


def run(seed: int, slice_ms: int | None = None, until_ms: int = 90_000,
        max_events: int | None = None) -> list[dict]:
    cluster = Cluster(seed=seed, brokers=3)
    events: list[dict] = []
    groups: dict[str, str] = {}
    calls: list[int] = []

    def advance_to(t):
        if max_events is not None:
            # Bounded calls stop at instant boundaries; calling again from there must give
            # the same run as one unbounded call (how rooms keep a jump's work per tick small).
            while cluster.now_ms < t:
                events.extend(cluster.advance_to(t, max_events=max_events))
                calls.append(cluster.now_ms)
        elif slice_ms is None:
            events.extend(cluster.advance_to(t))
        else:
            while cluster.now_ms < t:
                events.extend(cluster.advance(min(slice_ms, t - cluster.now_ms)))

    for at_ms, command in schedule(seed):
        advance_to(at_ms)
        if command["type"] == "consumer.add":
            groups[command["id"]] = command["group"]
        if command.get("group") == "?":
            command = {**command, "group": groups[command["id"]]}
        events.extend(cluster.apply(command))
    advance_to(until_ms)
    if max_events is not None:
        assert len(calls) > len(events) // 200, f"seed {seed}: the bound never stopped a call"
    return events


@pytest.mark.parametrize("seed", SEEDS)
def test_same_seed_same_events_however_time_is_sliced(seed):
    first = run(seed)
    EventChecker().feed(first)  # and the run itself keeps invariant 1
    assert len(first) > 100, f"seed {seed}: the schedule should be busy"
    assert digest(run(seed)) == digest(first), f"seed {seed}: a second run differs"
    assert digest(run(seed, slice_ms=777)) == digest(first), (
        f"seed {seed}: slicing virtual time differently changed the events")
    assert digest(run(seed, max_events=7)) == digest(first), (
        f"seed {seed}: stopping after a few events at a time changed the events")


def test_different_seeds_differ():
    assert len({digest(run(seed)) for seed in range(5)}) == 5


def test_same_events_in_other_processes_whatever_their_hash_seed():
    seeds = list(SEEDS)[:8]
    here = [digest(run(seed)) for seed in seeds]
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); "
            "from tests.broker_core.test_determinism import run; "
            "from broker_core.checkers import digest; "
            f"print(json.dumps([digest(run(s)) for s in {seeds!r}]))")
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, cwd=ROOT, check=True, timeout=300)
        assert json.loads(out.stdout) == here, f"PYTHONHASHSEED={hash_seed} changed events"
