"""Fixtures shared by the whole suite: a Hypothesis profile, a real Redis, a real Daphne.

Real components where users have them (see STYLE.md): the Redis and Daphne fixtures start the
actual servers as subprocesses on free ports and stop them afterwards.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import settings

# Shared with the conformance harness's servers (one implementation of each).
from conformance import free_ports, stop_process  # noqa: F401  (tests import them from here)
from playground.env import parse_bool

ROOT = Path(__file__).resolve().parent.parent

# HYPOTHESIS_PROFILE=ci (set by .ci/run): fresh random examples each run, no per-example deadline
# (shared CI machines are slow and bursty). "dev" is Hypothesis's defaults.
settings.register_profile("ci", derandomize=False, deadline=None, print_blob=True)
settings.register_profile("dev")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def in_ci() -> bool:
    try:
        return parse_bool(os.environ.get("CI"), default=False)
    except ImproperlyConfigured:
        return True  # CI set to something unusual: still CI


def require_program(name: str, install_hint: str) -> str:
    """Path of `name`; skip the test when it is missing locally, fail under CI."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed ({install_hint})"
    if in_ci():
        pytest.fail(f"{message}; CI must run this test, so it fails instead of skipping")
    pytest.skip(f"{message}; skipped locally, under CI=true this fails")


def free_port() -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until(ready, proc: subprocess.Popen, log: Path, what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text()}")
        if ready():
            return
        time.sleep(0.1)
    stop_process(proc)
    raise RuntimeError(f"{what} not ready after {timeout_s} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """URL of a throwaway redis-server (no persistence) running for the whole session."""
    import redis

    binary = require_program("redis-server", "apt-get install redis-server")
    port = free_port()
    log = tmp_path_factory.mktemp("redis") / "redis.log"
    with log.open("wb") as out:
        # No RDB snapshots, no AOF: nothing is written to disk.
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1"]
        proc = subprocess.Popen(
            [*argv, "--save", "", "--appendonly", "no"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def answers_ping() -> bool:
        try:
            return redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping()
        except redis.ConnectionError:
            return False

    _wait_until(answers_ping, proc, log, "redis-server", timeout_s=15)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(proc)


@pytest.fixture(scope="session", autouse=True)
def collected_static(tmp_path_factory):
    """A STATIC_ROOT as `make run` leaves staticfiles/ (minified, content-hashed names, .br and
    .gz), collected once a session, never into the developer's staticfiles/. Every server a
    test starts (Daphne, runserver_kafka, with DEBUG off they refuse to start without it)
    inherits it through the environment."""
    from tests.page_bytes import collect_static

    root = collect_static(tmp_path_factory.mktemp("staticfiles"))
    previous = os.environ.get("DJANGO_STATIC_ROOT")
    os.environ["DJANGO_STATIC_ROOT"] = str(root)
    yield root
    if previous is None:
        os.environ.pop("DJANGO_STATIC_ROOT", None)
    else:
        os.environ["DJANGO_STATIC_ROOT"] = previous


@pytest.fixture(scope="session")
def daphne_env(tmp_path_factory, collected_static):
    """The environment the test Daphne runs in, with its own migrated SQLite file (never the
    developer's db.sqlite3) and the session's collected static files, served as a deployed
    server serves them (DEBUG off). Tests that need rows in that database (a staff user) run
    `manage.py` with this environment."""
    workdir = tmp_path_factory.mktemp("daphne")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "playground.settings",
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "DJANGO_STATIC_ROOT": str(collected_static),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    # Every browser test opens its rooms from 127.0.0.1: the per-address room-creation limit
    # guards the public server, not a test run (the limit's own tests set theirs).
    env.setdefault("PLAYGROUND_ROOM_CREATE_BURST", "1000")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return env


@pytest.fixture(scope="session")
def daphne_url(daphne_env, tmp_path_factory):
    """Base URL of a real Daphne serving playground.asgi:application, as `make run` does."""
    bin_dir = Path(sys.executable).parent
    daphne = bin_dir / "daphne"
    if not daphne.exists():
        pytest.fail(f"{daphne} not found: run the suite with the virtualenv's python")
    env = daphne_env
    log = tmp_path_factory.mktemp("daphne-log") / "daphne.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(daphne), "-b", "127.0.0.1", "-p", str(port), "playground.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    _wait_until(healthy, proc, log, "daphne", timeout_s=30)
    try:
        yield base
    finally:
        stop_process(proc)


@pytest.fixture(autouse=True)
def _builtin_scenarios(request):
    """The built-in scenarios, as `make run` and the data migration leave them. A transactional
    test flushes the database afterwards, taking the migration's rows with it; put them back
    (idempotent, and a no-op when they are there) for every test that reaches the database."""
    if not {"db", "transactional_db"} & set(request.fixturenames) \
            and request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("transactional_db" if "transactional_db" in request.fixturenames
                            or _marked_transactional(request) else "db")
    from playground.library.builtins import load_builtins

    load_builtins()


def _marked_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and (marker.kwargs.get("transaction") or
                            (marker.args and marker.args[0])))
