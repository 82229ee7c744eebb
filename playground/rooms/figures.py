"""A scenario's figures, live in a room: per-record waits as the events happen.

A scenario may declare ``figures`` (broker_core/scenario.py): for each record (topic,
partition, offset) the time from the first event matching ``from`` to the first later event
matching ``to``, e.g. a customer's wait from ``record.produced`` to ``record.acked``. The command
line prints them at the end of a run (broker_core/report.py); a room shows them while it runs,
to every viewer, so the matching is report._Figure's own (imported, not copied) and only what
it keeps is bounded, because a room may run for days:

- ``count``, ``mean_ms``, ``min_ms`` and ``max_ms`` are exact, over every wait since 0 ms (a
  running count, sum, minimum and maximum);
- ``median_ms`` is the median of the newest ``MEDIAN_WINDOW`` waits only (``median_of`` says
  how many): an exact median would have to keep every wait;
- ``points`` are the newest ``SERIES_POINTS`` waits as ``[t_ms, wait_ms]`` (t_ms: when the wait
  ended), for the page's chart;
- records that started waiting are remembered until they finish, at most ``STARTED_MAX`` of
  them: past that the one waiting longest is forgotten (``dropped`` counts them; its wait is
  never counted). A design that never answers must not grow a room's memory for ever.

Everything follows from the event stream alone (no wall clock), so a room rebuilt by replay
(wake, seek, rewind) has the same figures as one that watched from the start.

Frames carry only what changed: `Figures.changes(from_seq)` gives, for each figure an event at
or after `from_seq` changed, its numbers and its new points (at most ``FRAME_POINTS`` of them,
the newest; the page's chart then skips the rest, as it would once they scroll out). A room's
frame covers exactly the events fed since the previous frame, so no marks are kept here and a
rebuilt room, whose next frame starts after its snapshot's seq, sends nothing twice.
"""

from collections import OrderedDict, deque

from broker_core.narration import Moments
from broker_core.report import _Figure

SERIES_POINTS = 300  # the chart's newest waits per figure, in the snapshot and on the page
MEDIAN_WINDOW = 1_000  # the median is of this many newest waits
STARTED_MAX = 10_000  # records waiting at once, per figure, before the oldest is forgotten
FRAME_POINTS = 100  # new points per figure in one frame (MAX_FIGURES=20: ~40 KB at most)


class _Started(OrderedDict):
    """report._Figure's map of records still waiting, bounded: setting one more than
    `cap` forgets the oldest (the one waiting longest) and counts it in `dropped`."""

    def __init__(self, cap: int):
        super().__init__()
        self.cap = cap
        self.dropped = 0

    def __setitem__(self, key, value) -> None:
        if key not in self and len(self) >= self.cap:
            self.popitem(last=False)
            self.dropped += 1
        super().__setitem__(key, value)


class _Waits:
    """report._Figure's list of waits, as running numbers plus the newest few: `append` is
    all _Figure asks of it."""

    __slots__ = ("count", "total", "min", "max", "recent")

    def __init__(self, window: int):
        self.count = 0
        self.total = 0
        self.min: int | None = None
        self.max: int | None = None
        self.recent: deque[int] = deque(maxlen=window)

    def append(self, wait: int) -> None:
        self.count += 1
        self.total += wait
        self.min = wait if self.min is None else min(self.min, wait)
        self.max = wait if self.max is None else max(self.max, wait)
        self.recent.append(wait)

    def __len__(self) -> int:
        return self.count


class LiveFigure(_Figure):
    """One figure, fed event by event, keeping bounded state (see the module's docstring)."""

    __slots__ = ("series", "changed_seq", "_summary", "_summary_key")

    def __init__(self, spec: dict, *, series_points: int = SERIES_POINTS,
                 median_window: int = MEDIAN_WINDOW, started_max: int = STARTED_MAX):
        super().__init__(spec)
        self.started = _Started(started_max)
        self.waits = _Waits(median_window)
        # (seq, t_ms, wait_ms) of the newest waits, oldest first; seq says which frame has it.
        self.series: deque[tuple[int, int, int]] = deque(maxlen=series_points)
        self.changed_seq = -1  # the seq of the last event that changed this figure
        self._summary: dict | None = None
        self._summary_key = None

    def _key(self) -> tuple:
        return self.waits.count, len(self.started), self.started.dropped

    def feed(self, event: dict) -> None:
        if "offset" not in event:  # _Figure's own first test, here to skip the bookkeeping
            return
        before = self._key()
        super().feed(event)
        if self._key() == before:
            return
        self.changed_seq = event.get("seq", self.changed_seq)
        if self.waits.count != before[0]:
            self.series.append((self.changed_seq, event["t_ms"], self.waits.recent[-1]))

    def summary(self) -> dict:
        """The numbers (not the points); computed once per change."""
        key = self._key()
        if key != self._summary_key:
            waits = self.waits
            out = {"count": waits.count, "pending": len(self.started),
                   "dropped": self.started.dropped}
            if waits.count:
                ordered = sorted(waits.recent)
                newest = self.series[-1]
                out.update(mean_ms=round(waits.total / waits.count, 1), min_ms=waits.min,
                           max_ms=waits.max, median_ms=ordered[len(ordered) // 2],
                           median_of=len(ordered), newest_ms=newest[2],
                           newest_t_ms=newest[1])
            self._summary, self._summary_key = out, key
        return self._summary

    def points_since(self, from_seq: int, limit: int) -> list[list[int]]:
        """The newest `limit` points that ended at or after event `from_seq`, oldest first."""
        out = []
        for seq, t_ms, wait in reversed(self.series):
            if seq < from_seq or len(out) >= limit:
                break
            out.append([t_ms, wait])
        out.reverse()
        return out

    def state(self) -> dict:
        """Everything it keeps, for comparing two rooms (tests)."""
        return {"summary": self.summary(), "series": list(self.series),
                "started": list(self.started.items()), "recent": list(self.waits.recent),
                "total": self.waits.total, "changed_seq": self.changed_seq}


class Figures:
    """A scenario's figures (its compiled ``figures`` list; None or empty: none)."""

    def __init__(self, specs, **bounds):
        self.items = [LiveFigure(spec, **bounds) for spec in specs or [] if spec is not None]

    def observe(self, events: list[dict]) -> None:
        if not self.items:
            return
        for event in events:
            if "offset" not in event:
                continue
            for figure in self.items:
                figure.feed(event)

    def snapshot(self) -> list[dict]:
        """Each figure whole: label, numbers and its newest points (a snapshot's)."""
        return [{"index": i, "label": f.label, **f.summary(),
                 "points": [[t_ms, wait] for _, t_ms, wait in f.series]}
                for i, f in enumerate(self.items)]

    def changes(self, from_seq: int, limit: int = FRAME_POINTS) -> list[dict] | None:
        """What changed from event `from_seq` on (a frame's), or None when nothing did:
        per changed figure its index, numbers and new points (`limit` newest at most)."""
        out = [{"index": i, **f.summary(), "points": f.points_since(from_seq, limit)}
               for i, f in enumerate(self.items) if f.changed_seq >= from_seq]
        return out or None

    def state(self) -> list[dict]:
        return [f.state() for f in self.items]


class MomentsAndFigures(Moments):
    """A room's narration `Moments` with the scenario's `Figures` riding along: whatever
    feeds one (the room's events as they happen, and every rebuild's replay) feeds both, so
    a rebuilt room's figures are those of a room that watched from the start."""

    def __init__(self, steps: list, figures=None):
        super().__init__(steps)
        self.figures = Figures(figures)

    def observe(self, events: list[dict]) -> None:
        super().observe(events)
        self.figures.observe(events)

    def wants_records(self) -> bool:
        # A figure is a per-record wait: it reads every record's events.
        return bool(self.figures.items) or super().wants_records()
