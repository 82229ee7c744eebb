"""Kafka's replication test criterion, "every acknowledged record is consumed", over seeded
random schedules of broker stops (clean and crash) and starts (DESIGN.md invariant 3).

Each schedule also runs the invariant-1 checker over its whole event stream. A failing schedule
prints its seed; `broker_core.faults.run_schedule(seed, ...)` reruns it alone.
"""

import os

import pytest

from broker_core.faults import run_schedule

SAFE_RUNS = int(os.environ.get("FAULT_SCHEDULES", "1000"))
UNSAFE_RUNS = max(1, SAFE_RUNS // 5)


def run_many(count: int, **kwargs):
    results = []
    for seed in range(count):
        try:
            results.append(run_schedule(seed, **kwargs))
        except AssertionError as error:
            raise AssertionError(f"schedule seed {seed} ({kwargs}): {error}") from error
    return results


def test_acks_all_rf3_min_isr_2_without_unclean_election_never_loses_an_acked_record():
    results = run_many(SAFE_RUNS, acks="all", min_insync=2)
    bad = [(r.seed, sorted(r.unconsumed)[:5], sorted(r.lost)[:5]) for r in results
           if r.unconsumed or r.lost]
    assert bad == [], f"lost acknowledged records in {len(bad)} of {len(results)} schedules"
    assert len(results) >= SAFE_RUNS
    # The schedules did hurt: leaders moved and producers had to retry.
    assert sum(r.acked for r in results) > 0
    print(f"{len(results)} schedules, {sum(r.acked for r in results):,} acknowledged records, "
          "none lost")


@pytest.mark.parametrize("mode", [
    {"acks": "1", "min_insync": 1},
    {"acks": "all", "min_insync": 1, "unclean": True},
], ids=["acks-1", "unclean-election"])
def test_unsafe_settings_lose_records_but_always_announce_them(mode):
    results = run_many(UNSAFE_RUNS, **mode)
    silent = [(r.seed, sorted(r.silent)[:5]) for r in results if r.silent]
    assert silent == [], "acknowledged records vanished without record.lost"
    with_loss = [r.seed for r in results if r.lost]
    assert with_loss, f"no schedule out of {len(results)} lost anything with {mode}"
    print(f"{mode}: {len(results)} schedules, loss announced in {len(with_loss)}")
