"""The playground as the conformance harness meets it: `manage.py runserver_kafka` (what
`make run` starts: Daphne with the Kafka wire listener in its process) on free loopback ports,
with its own migrated SQLite database in a temp dir.

    with Playground() as pg:
        subprocess.run([..., "--bootstrap", pg.bootstrap])
        print(pg.log_tail())   # the server's log: the listener's errors land there

`python -m conformance.playground` starts it, prints its bootstrap and start time, and stops.
"""

import atexit
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from conformance import ROOT, free_ports, log_tail, stop_process
from conformance.kafka import _metadata_brokers

START_TIMEOUT_S = float(os.environ.get("CONFORMANCE_PLAYGROUND_START_TIMEOUT_S", "60"))
# The listener serves three brokers on consecutive ports (LIVE_SPEC), the first one given.
BROKERS = 3


class Playground:
    """`.bootstrap` ("127.0.0.1:PORT", the first broker), `.http_port`, `.start_s`, `.log`."""

    def __init__(self, start_timeout_s: float = START_TIMEOUT_S, env: dict | None = None):
        self.start_timeout_s = start_timeout_s
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None
        self.tmp: tempfile.TemporaryDirectory | None = None
        self.bootstrap = ""
        self.http_port = 0
        self.kafka_port = 0
        self.start_s = 0.0
        self.log: Path | None = None
        self.final_log: str | None = None

    def __enter__(self) -> "Playground":
        t0 = time.monotonic()
        self.tmp = tempfile.TemporaryDirectory(prefix="playground-")
        tmp = Path(self.tmp.name)
        self.http_port = free_ports(1)
        self.kafka_port = free_ports(BROKERS)
        while self.kafka_port <= self.http_port < self.kafka_port + BROKERS:
            self.kafka_port = free_ports(BROKERS)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "playground.settings",
               # DEBUG: the development server's settings, no DJANGO_SECRET_KEY needed.
               "DJANGO_DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
               "PLAYGROUND_KAFKA_PORT": str(self.kafka_port), "PYTHONUNBUFFERED": "1",
               **self.extra_env}
        env.pop("REDIS_URL", None)  # in-memory channel layer: one process, nothing shared
        python = sys.executable
        migrate = subprocess.run([python, "manage.py", "migrate", "--noinput"], cwd=ROOT,
                                 env=env, capture_output=True, text=True, timeout=120)
        if migrate.returncode != 0:
            self._cleanup()
            raise RuntimeError(f"manage.py migrate failed:\n{migrate.stdout}{migrate.stderr}")
        self.log = tmp / "server.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [python, "manage.py", "runserver_kafka", "--noreload", "--nostatic",
                 f"127.0.0.1:{self.http_port}"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)
        atexit.register(self._stop)
        deadline = time.monotonic() + self.start_timeout_s
        while not self._ready():
            if self.proc.poll() is not None:
                self._fail(f"runserver_kafka exited with {self.proc.returncode} while starting")
            if time.monotonic() > deadline:
                self._fail(f"the playground did not answer within {self.start_timeout_s} s")
            time.sleep(0.2)
        self.bootstrap = f"127.0.0.1:{self.kafka_port}"
        self.start_s = time.monotonic() - t0
        return self

    def _ready(self) -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/r/live", timeout=2)
            return _metadata_brokers(self.kafka_port) > 0
        except OSError:
            return False

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
            stop_process(self.proc, timeout_s=10)
            self.proc = None
            # The temp dir goes: keep the log's text for log_tail() after the stop.
            self.final_log = self.log.read_text(errors="replace") if self.log.exists() else ""
        self._cleanup()

    def _cleanup(self) -> None:
        if self.tmp is not None:
            self.tmp.cleanup()
            self.tmp = None

    def __exit__(self, *exc) -> None:
        self._stop()


def main() -> None:
    with Playground() as pg:
        print(f"playground at {pg.bootstrap} (http {pg.http_port}), "
              f"started in {pg.start_s:.1f} s")
        t1 = time.monotonic()
    print(f"stopped in {time.monotonic() - t1:.1f} s")


if __name__ == "__main__":
    main()
