"""Virtual time: a heap of (due time, sequence, action).

Everything that happens later in the model (a follower's fetch, a member's session expiring, a
producer's next record) is an action on this heap. Actions due at the same instant run in the
order they were scheduled, because the sequence number breaks ties, so a run never depends on
anything but the commands and the seed. Time only moves when an action is taken off the heap, so
a day with nothing due costs one comparison. The model never reads a wall clock; pacing virtual
time against real time is the host's job (playground/), as SimPy keeps its real-time pacing in a
separate class.
"""

import heapq
from collections.abc import Callable


def next_tick(now_ms: int, interval_ms: int, origin_ms: int = 0) -> int:
    """The first tick ``origin + k * interval`` strictly after `now_ms`.

    Periodic things (heartbeats, auto-commits, follower fetches, retention checks) fall on such
    ticks; computing the next one instead of scheduling every one keeps idle time free.
    """
    return origin_ms + ((now_ms - origin_ms) // interval_ms + 1) * interval_ms


def last_tick(now_ms: int, interval_ms: int, origin_ms: int = 0) -> int:
    """The last tick ``origin + k * interval`` at or before `now_ms`."""
    return origin_ms + ((now_ms - origin_ms) // interval_ms) * interval_ms


class Timer:
    """A handle to a scheduled action (`due_ms`, `action`, `arg`), made only by `Clock.at`;
    `cancel()` makes it a no-op when it comes due.

    Cancelled entries stay in the heap until their turn (lazy deletion): cancelling is O(1) and
    the heap never has to be searched.
    """

    __slots__ = ("due_ms", "action", "arg")

    def cancel(self) -> None:
        self.action = None

    @property
    def active(self) -> bool:
        return self.action is not None


_new_object = object.__new__


class Clock:
    __slots__ = ("now_ms", "_heap", "_seq", "actions_run")

    def __init__(self) -> None:
        self.now_ms = 0
        self._heap: list = []
        self._seq = 0
        self.actions_run = 0  # how much work virtual time cost, for tests and benchmarks

    def at(self, due_ms: int, action: Callable, arg=None) -> Timer:
        """Run `action(arg)` at virtual time `due_ms` (never earlier than now)."""
        if due_ms < self.now_ms:
            due_ms = self.now_ms
        # Its slots set here rather than by an __init__: one interpreter frame less on every
        # action scheduled (a consumer woken by each produced record schedules one).
        timer = _new_object(Timer)
        timer.due_ms = due_ms
        timer.action = action
        timer.arg = arg
        self._seq += 1
        heapq.heappush(self._heap, (due_ms, self._seq, timer))
        return timer

    def next_due(self) -> int | None:
        """When the next live action is due, or None when nothing is scheduled."""
        heap = self._heap
        while heap and heap[0][2].action is None:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def run_until(self, until_ms: int, stop: Callable[[], bool] | None = None) -> bool:
        """Take every action due at or before `until_ms`, in order, then set now to `until_ms`.

        Actions may schedule further actions, including at the current instant; those run in
        this same call.

        `stop` bounds the call: it is asked after each instant is complete (nothing left due at
        `now`), and when it says True the call returns there, with `now` at that instant, as if
        `until_ms` had been that instant. So a bounded call is exactly a shorter unbounded one:
        the run never depends on where a host stopped. Returns whether `until_ms` was reached.
        """
        heap = self._heap
        pop = heapq.heappop
        while heap and heap[0][0] <= until_ms:
            due_ms, _, timer = pop(heap)
            action = timer.action
            if action is None:
                continue
            timer.action = None
            self.now_ms = due_ms
            self.actions_run += 1
            action(timer.arg)
            if stop is None:
                continue
            # Cancelled timers left at this instant must not hide its end from `stop`.
            while heap and heap[0][2].action is None:
                pop(heap)
            if (not heap or heap[0][0] > due_ms) and stop():
                return due_ms >= until_ms
        if until_ms > self.now_ms:
            self.now_ms = until_ms
        return True

