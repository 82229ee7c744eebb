"""Pacing: how far virtual time should have got at a given wall time.

The model never reads a clock; the room asks a `Pacer` "where should virtual time be now?"
and advances the cluster to that. The pacer is a straight line
``virtual = base_virtual + (wall - base_wall) * 1000 * speed`` that is re-based whenever
something changes it (play, pause, a speed change, the end of a step or jump). Re-basing at
the current point keeps the line continuous, so a speed change never makes time jump (trio's
MockClock does the same). Wall time is whatever `clock()` the room was given, in seconds, so
tests drive it by hand instead of sleeping.
"""

import math

SPEED_MIN = 0.1
SPEED_MAX = 100_000.0


class Pacer:
    __slots__ = ("base_wall_s", "base_virtual_ms", "speed", "playing")

    def __init__(self, wall_s: float, virtual_ms: float = 0, speed: float = 1.0,
                 playing: bool = False):
        self.base_wall_s = wall_s
        self.base_virtual_ms = float(virtual_ms)
        self.speed = float(speed)
        self.playing = playing

    def exact_at(self, wall_s: float) -> float:
        """Virtual time at `wall_s`, with its fraction of a millisecond."""
        if not self.playing:
            return self.base_virtual_ms
        # A wall clock stepping backwards (tests, NTP on a non-monotonic clock) holds time still.
        elapsed_s = max(0.0, wall_s - self.base_wall_s)
        return self.base_virtual_ms + elapsed_s * 1000.0 * self.speed

    def virtual_at(self, wall_s: float) -> int:
        """Whole milliseconds of virtual time due by `wall_s` (the model counts in ms).

        A microsecond of slack absorbs binary floating point (1.001 s - 1 s is not quite 1 ms,
        and 100,000x magnifies the difference),
        so a wall interval that should give a whole millisecond gives it.
        """
        return math.floor(self.exact_at(wall_s) + 1e-3)

    def rebase(self, wall_s: float, virtual_ms: float) -> None:
        self.base_wall_s = wall_s
        self.base_virtual_ms = float(virtual_ms)

    def play(self, wall_s: float) -> None:
        if not self.playing:
            self.rebase(wall_s, self.base_virtual_ms)
            self.playing = True

    def pause(self, wall_s: float) -> None:
        if self.playing:
            self.rebase(wall_s, self.exact_at(wall_s))
            self.playing = False

    def set_speed(self, wall_s: float, speed: float) -> None:
        if not SPEED_MIN <= speed <= SPEED_MAX:
            raise ValueError(f"speed must be between {SPEED_MIN} and {SPEED_MAX}")
        self.rebase(wall_s, self.exact_at(wall_s))
        self.speed = float(speed)

    def state(self) -> dict:
        return {"speed": self.speed, "playing": self.playing}
