"""What the Python conformance programs share: the contract's command line, the check runner
(one JSON line per check on stdout, everything else on stderr) and the normalising helpers that
make real Kafka and the playground print byte-equal lines when they behave alike.

See /work/helpers/CONFORMANCE.md (the contract) for the check names and the rules: no ids, no
times, no hosts or ports, sorted lists, Kafka error names rather than messages.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import signal
import sys
import time
import traceback
from collections.abc import Callable

# The keyed records of produce.keys: k0..k19, value v<i>, one header "i" = <i> (so fetch.all
# shows headers survive a round trip).
RECORD_COUNT = 20
# A check that has not finished after this many seconds is reported as an error and the program
# moves on: a hanging library call must not hang the comparator. Generous: a Kafka group join
# alone takes group.initial.rebalance.delay.ms (3 s by default) and the static-member check
# joins several times.
CHECK_TIMEOUT_S = 90
# How long a check waits for something that should happen soon (metadata to show a new topic,
# records to arrive, a group to settle) before it reports what it saw.
SETTLE_S = 20.0


class RunState:
    """What a client program's checks share in one run: the prefix of every topic and group
    it makes (one per run, so runs never meet), the bootstrap it was given, and the window of
    records it produced. Each program's State adds its own clients."""

    prefix = ""
    bootstrap = ""
    window: Window | None = None

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def short(self, name: str) -> str:
        """A name as the report shows it, the run's prefix replaced: the same on both sides."""
        return "PREFIX" + name[len(self.prefix):] if name.startswith(self.prefix) else name


def keyed_records() -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    return [(f"k{i}".encode(), f"v{i}".encode(), [("i", str(i).encode())])
            for i in range(RECORD_COUNT)]


def now_ms() -> int:
    return int(time.time() * 1000)


class Window:
    """The wall-clock span of a produce, in ms: a record's timestamp is judged against it (a
    client's CreateTime or a broker's LogAppendTime both fall inside when they are right)."""

    def __init__(self):
        self.start = now_ms()
        self.end: int | None = None

    def close(self) -> Window:
        # +1: time.time() truncates to the ms; a timestamp taken in the last ms still counts.
        self.end = now_ms() + 1
        return self

    def relate(self, ts: int | None) -> str:
        if ts is None or ts < 0:
            return "absent"
        if ts < self.start:
            return "before_produce"
        if self.end is not None and ts > self.end:
            return "after_produce"
        return "during_produce"


def text(b: bytes | str | None) -> str | None:
    """Keys, values and header values as JSON strings (ours are ASCII; anything else shows)."""
    if b is None:
        return None
    if isinstance(b, str):
        return b
    try:
        return b.decode()
    except UnicodeDecodeError:
        return "0x" + b.hex()


def headers_list(headers) -> list[list]:
    """Headers in the order the client hands them over (Kafka keeps order and duplicates)."""
    return [[k if isinstance(k, str) else text(k), text(v)] for k, v in (headers or [])]


def error_name(exc: BaseException) -> str:
    """Kafka's error name when the exception carries one (kafka-python and aiokafka broker
    errors have it as `message`), else the exception's class name."""
    message = getattr(type(exc), "message", None)
    if isinstance(message, str) and message and message.replace("_", "").isupper():
        return message
    return type(exc).__name__


def elapsed_bucket(seconds: float | None) -> str:
    """How long until something surfaced, in the contract's coarse buckets."""
    if seconds is None:
        return "timeout"
    if seconds < 2:
        return "<2s"
    if seconds < 10:
        return "<10s"
    return "timeout"


def wait_until(predicate: Callable[[], object], timeout: float = SETTLE_S, every: float = 0.2):
    """Poll `predicate` until it returns something truthy or `timeout` passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)


async def async_wait_until(predicate, timeout: float = SETTLE_S, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value or time.monotonic() >= deadline:
            return value
        await asyncio.sleep(every)


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


class Skip(Exception):
    """Raised by a check the client cannot do; the reason is printed as "skip"."""


class CheckTimeout(Exception):
    pass


class Program:
    """The contract's command line and the check runner.

    Checks register in order with `@program.check(name, needs=(...))`; `needs` names checks
    whose side effects this one relies on (a topic, records, a group), which are run silently
    first when `--only` selected this check without them. A check returns its observation
    (JSON-able), or raises Skip, or raises: the exception becomes an "error" line.
    """

    def __init__(self, client: str, error_namer: Callable[[BaseException], str] | None = None):
        self.client = client
        # The client's way to name an exception's Kafka error (librdkafka spells its own).
        self.error_namer = error_namer or error_name
        self.checks: list[tuple[str, Callable, tuple[str, ...]]] = []
        self.done: set[str] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.args = None

    def check(self, name: str, needs: tuple[str, ...] = ()):
        def register(fn):
            self.checks.append((name, fn, needs))
            return fn
        return register

    def parse(self, argv=None):
        parser = argparse.ArgumentParser(description=f"Conformance checks for {self.client}")
        parser.add_argument("--bootstrap", required=True, help="HOST:PORT of a broker")
        parser.add_argument("--prefix", required=True,
                            help="every topic and group this run creates starts with it")
        parser.add_argument("--only", default="", help="run only checks starting with this")
        self.args = parser.parse_args(argv)
        return self.args

    def _call(self, fn):
        if inspect.iscoroutinefunction(fn):
            if self.loop is None:
                self.loop = asyncio.new_event_loop()
            return self.loop.run_until_complete(
                asyncio.wait_for(fn(), CHECK_TIMEOUT_S))

        def alarm(signum, frame):
            raise CheckTimeout(f"no answer within {CHECK_TIMEOUT_S} s")

        previous = signal.signal(signal.SIGALRM, alarm)
        signal.alarm(CHECK_TIMEOUT_S)
        try:
            return fn()
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)

    def _run_one(self, name: str, fn, emit: bool) -> None:
        started = time.monotonic()
        try:
            line = {"check": name, "observed": self._call(fn)}
        except Skip as skip:
            line = {"check": name, "skip": str(skip)}
        except (TimeoutError, CheckTimeout) as exc:
            line = {"check": name, "error": "CheckTimeout", "detail": str(exc)
                    or f"no answer within {CHECK_TIMEOUT_S} s"}
        except Exception as exc:  # noqa: BLE001 - every failure is an observation to report
            log(f"[{self.client}] {name} raised:")
            traceback.print_exc(file=sys.stderr)
            line = {"check": name, "error": self.error_namer(exc), "detail": str(exc)[:300]}
        self.done.add(name)
        log(f"[{self.client}] {name}: {time.monotonic() - started:.2f}s"
            + ("" if emit else " (prerequisite, not printed)"))
        if emit:
            print(json.dumps(line, sort_keys=True), flush=True)

    def _ensure(self, names: tuple[str, ...]) -> None:
        table = {name: (fn, needs) for name, fn, needs in self.checks}
        for name in names:
            if name in self.done:
                continue
            fn, needs = table[name]
            self._ensure(needs)
            self._run_one(name, fn, emit=False)

    def main(self, argv=None, setup: Callable | None = None, teardown: Callable | None = None):
        args = self.parse(argv)
        if setup is not None:
            self._call(setup)
        try:
            for name, fn, needs in self.checks:
                if not name.startswith(args.only) or name in self.done:
                    continue
                self._ensure(needs)
                self._run_one(name, fn, emit=True)
        finally:
            if teardown is not None:
                try:
                    self._call(teardown)
                except Exception:  # noqa: BLE001 - closing must not hide the results
                    traceback.print_exc(file=sys.stderr)
            if self.loop is not None:
                self.loop.close()
        return 0
