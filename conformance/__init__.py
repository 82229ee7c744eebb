"""The conformance harness: the same client programs against real Apache Kafka and against the
playground's wire listener, what an application observes compared (see conformance/run.py).

This module holds what the servers' wrappers share: where the cache is, free loopback ports,
stopping a process, and `ServerProcess`, a server started in a temp dir of its own."""

import atexit
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Downloads and builds (Kafka's jars, the compiled Java program): gitignored, kept between runs.
CACHE_DIR = Path(os.environ.get("CONFORMANCE_CACHE", ROOT / ".cache" / "conformance"))


def free_ports(n: int = 1) -> int:
    """The first of `n` consecutive loopback TCP ports that were all free a moment ago."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n > 65_000:
            continue
        socks = []
        try:
            for port in range(base, base + n):
                t = socket.socket()
                socks.append(t)
                t.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for t in socks:
                t.close()
    raise RuntimeError(f"no {n} free consecutive loopback ports after 50 tries")


def stop_process(proc: subprocess.Popen, timeout_s: float = 10) -> None:
    """SIGTERM, then SIGKILL when it has not exited within `timeout_s`."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"(no log at {path}: {e})"


class ServerProcess:
    """A server process (`proc`) writing `log` in a temp dir of its own (`tmp`), used as a
    context manager: a subclass's `__enter__` makes the dir (`_make_tmp`), starts the process
    (`_started`) and waits for it (`_wait_ready`). Leaving stops it and removes the dir; the
    log's text is kept for `log_tail` after the stop."""

    stop_timeout_s = 10.0

    def __init__(self, start_timeout_s: float):
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen | None = None
        self.tmp: tempfile.TemporaryDirectory | None = None
        self.log: Path | None = None
        self.final_log: str | None = None
        self.start_s = 0.0

    def _make_tmp(self, prefix: str) -> Path:
        self.tmp = tempfile.TemporaryDirectory(prefix=prefix)
        return Path(self.tmp.name)

    def _started(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        atexit.register(self._stop)

    def _wait_ready(self, what: str, ready: Callable[[], bool]) -> None:
        """Until `ready()`; fails (with the end of the log) when the process exits first or
        `start_timeout_s` passes."""
        deadline = time.monotonic() + self.start_timeout_s
        while not ready():
            if self.proc.poll() is not None:
                self._fail(f"{what} exited with {self.proc.returncode} while starting")
            if time.monotonic() > deadline:
                self._fail(f"{what} did not answer within {self.start_timeout_s} s")
            time.sleep(0.2)

    def log_tail(self, lines: int = 60) -> str:
        """The end of the server's log; after the stop, what it was at the stop."""
        if self.proc is None and self.final_log is not None:
            return "\n".join(self.final_log.splitlines()[-lines:])
        return log_tail(self.log, lines) if self.log else ""

    def _fail(self, why: str):
        tail = self.log_tail()
        self._stop()
        raise RuntimeError(f"{why}; the end of its log:\n{tail}")

    def _stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout_s=self.stop_timeout_s)
            self.proc = None
            # The temp dir goes: keep the log's text for log_tail() after the stop.
            if self.log is not None and self.log.exists():
                self.final_log = self.log.read_text(errors="replace")
        self._cleanup()

    def _cleanup(self) -> None:
        if self.tmp is not None:
            self.tmp.cleanup()
            self.tmp = None

    def __exit__(self, *exc) -> None:
        self._stop()
