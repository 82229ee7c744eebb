"""bench/anim_frames.py reads the work of each animation frame out of Chrome's timeline: these
check that reading on small hand-made traces in the shapes Debian's Chromium writes (no browser
is started), so that a figure the bench prints means what it says.
"""

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "anim_frames.py"
MAIN, COMPOSITOR, OTHER_PID = 7, 9, 3


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("anim_frames", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def span(name, ts, dur, tdur=None, tid=MAIN, pid=1, **args):
    event = {"name": name, "ph": "X", "ts": ts, "dur": dur, "pid": pid, "tid": tid,
             "cat": "devtools.timeline", "args": args}
    if tdur is not None:
        event["tdur"] = tdur
    return event


def instant(name, ts, tid=MAIN, pid=1, **args):
    return {"name": name, "ph": "I", "ts": ts, "pid": pid, "tid": tid, "s": "t",
            "cat": "disabled-by-default-devtools.timeline.frame", "args": args}


def frame_events(at, tokens):
    """One frame's task as Chromium 156 writes it: BeginMainThreadFrame, the rAF callbacks
    (with a layout forced inside them), style, layout, paint, commit (µs)."""
    return [
        span("RunTask", at, 10_000, tdur=6_000),
        instant("BeginMainThreadFrame", at + 10, data={"frameId": at}),
        span("FireAnimationFrame", at + 100, 4_000, tdur=3_000),
        span("FunctionCall", at + 150, 3_500, tdur=2_600),
        span("Layout", at + 1_000, 1_000, tdur=900),  # forced by script
        instant("TimeStamp", at + 3_700, data={"message": f"af-tokens {tokens}"}),
        span("UpdateLayoutTree", at + 4_200, 500),
        span("Layout", at + 4_800, 700),
        span("Paint", at + 5_600, 1_200),
        span("Paint", at + 5_700, 1_000),  # nested: the document inside the viewport's paint
        span("Commit", at + 7_000, 2_500, tdur=500),  # waiting for the compositor thread
    ]


@pytest.fixture
def two_frames():
    events = frame_events(0, 398) + frame_events(16_667, 391)
    # The socket's frame between the two: main-thread work, but not a frame's.
    events += [span("RunTask", 11_000, 3_000), span("TimerFire", 11_100, 2_800)]
    # Another thread and another renderer: never counted.
    events += [span("RunTask", 500, 50_000, tid=COMPOSITOR),
               instant("BeginFrame", 0, tid=COMPOSITOR)]
    events += [span("RunTask", 0, 90_000, pid=OTHER_PID), span("Paint", 10, 80_000, pid=OTHER_PID)]
    return events


def test_a_frame_is_the_task_that_begins_it_with_its_wall_and_cpu_time(bench, two_frames):
    frames = bench.frames_from_trace(two_frames)
    assert [f["ms"] for f in frames] == [10.0, 10.0]
    assert [f["cpu_ms"] for f in frames] == [6.0, 6.0]
    assert [f["raf_ms"] for f in frames] == [4.0, 4.0]
    assert [f["tokens"] for f in frames] == [398, 391]


def test_work_between_frames_counts_as_busy_not_as_frame_work(bench, two_frames):
    first, last = bench.frames_from_trace(two_frames)
    assert first["busy_ms"] == 13.0  # its own task and the socket's
    assert last["busy_ms"] is None  # the trace ends before the next frame


def test_self_times_add_up_to_the_frame_and_say_where_it_went(bench, two_frames):
    frame = bench.frames_from_trace(two_frames)[0]
    kinds = frame["kinds"]
    assert sum(kinds.values()) == pytest.approx(frame["ms"])
    assert kinds["script: rAF callbacks"] == pytest.approx(3.0)  # 4 ms less the forced layout
    assert kinds["layout"] == pytest.approx(1.7)  # forced in script, and the frame's own
    assert kinds["style"] == pytest.approx(0.5)
    assert kinds["paint"] == pytest.approx(1.2)  # nested paints counted once
    assert kinds["commit"] == pytest.approx(2.5)
    assert frame["forced_ms"] == pytest.approx(1.0)
    assert frame["kinds_cpu"]["commit"] == pytest.approx(0.5)


def test_a_trace_without_frames_says_so(bench):
    with pytest.raises(RuntimeError, match="BeginMainThreadFrame"):
        bench.frames_from_trace([span("RunTask", 0, 1_000)])


def test_script_time_is_named_by_function_and_builtins_by_their_caller(bench):
    def node(id_, name, url="", line=0, children=()):
        return {"id": id_, "callFrame": {"functionName": name, "url": url, "lineNumber": line},
                "children": list(children)}

    profile = {
        "nodes": [node(1, "(root)", children=[2, 5]),
                  node(2, "launch", "http://x/static/playground/render.abc.js", 11, children=[3]),
                  node(3, "getBoundingClientRect"),
                  node(5, "(idle)")],
        "samples": [2, 3, 3, 5],
        "timeDeltas": [100, 200, 300, 400],
    }
    own = bench.self_time_by_function(profile)
    assert own == {"launch render.abc.js:12": 100,
                   "getBoundingClientRect <- launch render.abc.js:12": 500, "(idle)": 400}
