"""The kafkajs conformance program (kafkajs 2.2.4; main.js beside this file), run by Node with
the contract's command line:

    python -m conformance.clients.kafkajs --bootstrap HOST:PORT --prefix PREFIX [--only CHECKS]

kafkajs is installed from this folder's package-lock.json by `npm ci` into its node_modules/
(gitignored), once: a stamp inside node_modules names the lock file's hash, so a changed lock
reinstalls and an unchanged one costs nothing.
"""

import hashlib
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from conformance.kafka import ToolchainMissing

HERE = Path(__file__).resolve().parent
MAIN = HERE / "main.js"
NODE_MIN_MAJOR = 14  # kafkajs 2.2.4's "engines"
NPM_TIMEOUT_S = 300


def node() -> str:
    path = shutil.which("node")
    if not path:
        raise ToolchainMissing("node not found on PATH; on Debian: apt-get install nodejs npm")
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    m = re.match(r"v(\d+)", out.stdout.strip())
    if not m or int(m.group(1)) < NODE_MIN_MAJOR:
        raise ToolchainMissing(f"kafkajs needs Node {NODE_MIN_MAJOR}+, {path} is "
                               f"{out.stdout.strip() or 'unknown'}")
    return path


def _stamp() -> Path:
    digest = hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()[:16]
    return HERE / "node_modules" / f".conformance-lock-{digest}"


def install() -> float:
    """`npm ci` when node_modules does not match package-lock.json; seconds it took (0 when
    nothing was to do)."""
    stamp = _stamp()
    if stamp.exists() and (HERE / "node_modules" / "kafkajs" / "package.json").exists():
        return 0.0
    npm = shutil.which("npm")
    if not npm:
        raise ToolchainMissing("npm not found on PATH; on Debian: apt-get install npm")
    t0 = time.monotonic()
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                          capture_output=True, text=True, timeout=NPM_TIMEOUT_S,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"npm ci in {HERE} failed:\n{done.stdout}{done.stderr}")
    stamp.write_text(f"npm ci in {time.monotonic() - t0:.1f} s\n")
    return time.monotonic() - t0


def command(bootstrap: str, prefix: str, only: str | None = None) -> list[str]:
    """The argv that runs the checks (installs kafkajs first when needed)."""
    launcher = node()
    install()
    argv = [launcher, str(MAIN), "--bootstrap", bootstrap, "--prefix", prefix]
    return [*argv, "--only", only] if only else argv


def main(argv: list[str] | None = None) -> int:
    try:
        launcher = node()
        install()
    except ToolchainMissing as e:
        print(f"conformance.clients.kafkajs: {e}", file=sys.stderr)
        return 3
    args = sys.argv[1:] if argv is None else argv
    return subprocess.run([launcher, str(MAIN), *args], stdin=subprocess.DEVNULL).returncode
