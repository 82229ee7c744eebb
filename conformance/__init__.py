"""The conformance harness: the same client programs against real Apache Kafka and against the
playground's wire listener, what an application observes compared (see conformance/run.py).

This module holds what the servers' wrappers share: where the cache is, free loopback ports,
stopping a process."""

import os
import socket
import subprocess
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
