"""The playground as the conformance harness meets it: `manage.py runserver_kafka` (what
`make run` starts: Daphne with the Kafka wire listener in its process) on free loopback ports,
with its own migrated SQLite database in a temp dir.

    with Playground() as pg:
        subprocess.run([..., "--bootstrap", pg.bootstrap])
        print(pg.log_tail())   # the server's log: the listener's errors land there

`python -m conformance.playground` starts it, prints its bootstrap and start time, and stops.
"""

import os
import subprocess
import sys
import time
import urllib.request

from conformance import ROOT, ServerProcess, free_ports
from conformance.kafka import _metadata_brokers

START_TIMEOUT_S = float(os.environ.get("CONFORMANCE_PLAYGROUND_START_TIMEOUT_S", "60"))
# The listener serves three brokers on consecutive ports (LIVE_SPEC), the first one given.
BROKERS = 3


class Playground(ServerProcess):
    """`.bootstrap` ("127.0.0.1:PORT", the first broker), `.http_port`, `.start_s`, `.log`."""

    def __init__(self, start_timeout_s: float = START_TIMEOUT_S, env: dict | None = None):
        super().__init__(start_timeout_s)
        self.extra_env = env or {}
        self.bootstrap = ""
        self.http_port = 0
        self.kafka_port = 0

    def __enter__(self) -> "Playground":
        t0 = time.monotonic()
        tmp = self._make_tmp("playground-")
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
            self._started(subprocess.Popen(
                [python, "manage.py", "runserver_kafka", "--noreload", "--nostatic",
                 f"127.0.0.1:{self.http_port}"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL))
        self._wait_ready("runserver_kafka", self._ready)
        self.bootstrap = f"127.0.0.1:{self.kafka_port}"
        self.start_s = time.monotonic() - t0
        return self

    def _ready(self) -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/r/live", timeout=2)
            return _metadata_brokers(self.kafka_port) > 0
        except OSError:
            return False


def main() -> None:
    with Playground() as pg:
        print(f"playground at {pg.bootstrap} (http {pg.http_port}), "
              f"started in {pg.start_s:.1f} s")
        t1 = time.monotonic()
    print(f"stopped in {time.monotonic() - t1:.1f} s")


if __name__ == "__main__":
    main()
