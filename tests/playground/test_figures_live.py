"""A scenario's figures, live (playground/rooms/figures.py): the command line's numbers, kept
in bounded memory, the same however the event stream is sliced, and small in a frame."""

import json

from broker_core.report import RunSummary
from broker_core.scenario import build_cluster
from broker_core.scenarios import load_builtin
from playground.rooms.figures import FRAME_POINTS, Figures, LiveFigure

SPEC = {"label": "wait", "from": {"type": "record.produced", "topic": "t"},
        "to": {"type": "record.acked", "topic": "t"}}


def produced(seq, offset, t_ms):
    return {"seq": seq, "t_ms": t_ms, "type": "record.produced", "topic": "t", "partition": 0,
            "offset": offset}


def acked(seq, offset, t_ms):
    return {**produced(seq, offset, t_ms), "type": "record.acked"}


def run(spec, until_ms, slice_events):
    """The scenario's events to `until_ms`, fed to Figures and to the report in slices."""
    cluster = build_cluster(spec, seed=spec["seed"])
    figures, summary = Figures(spec["figures"]), RunSummary(spec)
    events = cluster.advance(0)
    while True:
        figures.observe(events)
        summary.feed(events)
        if cluster.now_ms >= until_ms:
            return figures, summary
        events = cluster.advance_to(until_ms, max_events=slice_events)


def test_live_figures_give_the_command_lines_numbers_for_sync_vs_async():
    spec = load_builtin("amazon-sync-vs-async")
    figures, summary = run(spec, 70_000, 500)
    report = summary.as_dict()["figures"]
    live = figures.snapshot()
    assert [f["label"] for f in live] == [f["label"] for f in report]
    for mine, theirs in zip(live, report, strict=True):
        assert {k: mine[k] for k in theirs} == theirs  # count, pending, mean, min, max, median
        assert len(mine["points"]) == mine["count"]  # under SERIES_POINTS: every wait
        assert mine["newest_ms"] == mine["points"][-1][1]
    sync, async_ = live[0], live[1]
    assert sync["mean_ms"] > 50 * async_["mean_ms"]


def test_the_same_stream_in_other_slices_gives_the_same_figures():
    spec = load_builtin("amazon-sync-vs-async")
    one, _ = run(spec, 70_000, 500)
    other, _ = run(spec, 70_000, 7)
    assert one.state() == other.state()


def test_waiting_records_series_and_median_window_stay_bounded():
    figure = LiveFigure(SPEC, series_points=5, median_window=4, started_max=3)
    seq = 0
    for offset in range(10):  # ten records start waiting; only the newest three are kept
        seq += 1
        figure.feed(produced(seq, offset, offset))
    assert [k[2] for k in figure.started] == [7, 8, 9]
    assert figure.summary()["dropped"] == 7 and figure.summary()["pending"] == 3
    seq += 1
    figure.feed(acked(seq, 0, 100))  # forgotten: its wait is never counted
    assert figure.summary()["count"] == 0
    for offset in range(20, 40):
        seq += 1
        figure.feed(produced(seq, offset, 1_000))
        seq += 1
        figure.feed(acked(seq, offset, 1_000 + offset))
    summary = figure.summary()
    assert summary["count"] == 20 and summary["min_ms"] == 20 and summary["max_ms"] == 39
    assert summary["mean_ms"] == 29.5  # exact over all twenty
    assert summary["median_of"] == 4 and summary["median_ms"] == 38  # of the newest four
    assert [p[2] for p in figure.series] == [35, 36, 37, 38, 39]
    assert summary["newest_ms"] == 39 and summary["newest_t_ms"] == 1_039


def test_changes_are_only_what_a_frame_covers_and_bounded():
    figures = Figures([SPEC, {**SPEC, "label": "other", "to": {"type": "record.processed"}}])
    figures.observe([produced(1, 0, 0), acked(2, 0, 20)])
    assert figures.changes(3) is None  # nothing from event 3 on
    first = figures.changes(1)
    assert [c["index"] for c in first] == [0, 1]  # the second figure saw its record start
    assert first[0]["points"] == [[20, 20]] and first[1]["points"] == []
    events = []
    for i in range(1, 501):
        events += [produced(2 * i + 1, i, i), acked(2 * i + 2, i, i + 5)]
    figures.observe(events)
    changed = figures.changes(3)
    assert len(changed[0]["points"]) == FRAME_POINTS
    assert changed[0]["points"][-1] == [505, 5] and changed[0]["count"] == 501


def test_a_frames_figures_stay_small_with_the_most_figures_a_scenario_may_have():
    from broker_core.scenario import MAX_FIGURES

    specs = [{**SPEC, "label": "x" * 200} for _ in range(MAX_FIGURES)]
    figures = Figures(specs)
    events = []
    for i in range(5_000):
        events += [produced(2 * i + 1, i, 10 ** 9), acked(2 * i + 2, i, 10 ** 9 + 10 ** 8)]
    figures.observe(events)
    frame = json.dumps(figures.changes(1), separators=(",", ":"))
    assert len(frame) < 64 * 1024, len(frame)
