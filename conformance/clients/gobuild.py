"""Builds the Go conformance programs (conformance/clients/franz, .../sarama) once each into
the cache, `.cache/conformance/bin/<name>-<hash>`, where the hash covers go.mod, go.sum, the
program's .go files and the Go version: a test or a harness run reuses the binary until one
of those changes. Modules come from the Go module proxy (or the local module cache) on the
first build; go.sum pins them, and -mod=readonly refuses to change go.mod behind our back.

The modules need Go 1.26 (their go.mod says so); GOTOOLCHAIN=local keeps the go command from
fetching another toolchain when the installed one is older: it fails with a clear message.
"""

import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from conformance import CACHE_DIR
from conformance.kafka import ToolchainMissing

HERE = Path(__file__).resolve().parent
BIN_DIR = CACHE_DIR / "bin"
# A cold build (module download and compiling sarama's or franz-go's dependencies) took about a
# minute on the 2-core machine; a later one with the Go build cache warm, seconds.
BUILD_TIMEOUT_S = 900


class BuildFailed(RuntimeError):
    """go build failed: the program's source or its modules are broken (never skipped)."""


# Where Go's own installer puts it; a shell that did not source its profile lacks it on PATH.
GO_FALLBACK = Path("/usr/local/go/bin/go")


def go() -> str:
    path = shutil.which("go") or (str(GO_FALLBACK) if GO_FALLBACK.exists() else None)
    if not path:
        raise ToolchainMissing("go not found on PATH or at /usr/local/go/bin: Go 1.26 or newer "
                               "is needed (franz-go 1.22 and sarama 1.61 require it; Debian "
                               "13's golang-go is 1.24, too old)")
    return path


def go_version(binary: str | None = None) -> str:
    out = subprocess.run([binary or go(), "env", "GOVERSION"], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "GOTOOLCHAIN": "local"})
    return out.stdout.strip()


def _wanted_go(source: Path) -> str:
    m = re.search(r"^go (\S+)", (source / "go.mod").read_text(), re.M)
    return m.group(1) if m else "?"


def source_hash(source: Path, version: str) -> str:
    h = hashlib.sha256(version.encode())
    for f in sorted([source / "go.mod", source / "go.sum", *source.glob("*.go")]):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def build(name: str) -> Path:
    """The cached binary of conformance/clients/<name>, built when missing."""
    source = HERE / name
    binary = go()
    version = go_version(binary)
    out = BIN_DIR / f"{name}-{source_hash(source, version)}"
    if out.exists():
        return out
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly -buildvcs=false"}
    t0 = time.monotonic()
    done = subprocess.run([binary, "build", "-trimpath", "-o", str(tmp), "."], cwd=source,
                          env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        if "requires go >=" in done.stderr or "GOTOOLCHAIN" in done.stderr:
            raise ToolchainMissing(f"{version or 'go'} is too old for {source}/go.mod "
                                   f"(go {_wanted_go(source)}): {done.stderr.strip()[:300]}")
        raise BuildFailed(f"go build in {source} failed:\n{done.stdout}{done.stderr}")
    os.replace(tmp, out)  # whole or not at all, and safe against a concurrent build
    (BIN_DIR / f"{out.name}.log").write_text(
        f"built with {version} in {time.monotonic() - t0:.1f} s\n")
    # Builds of older sources would only pile up (about 10 MB each); one still running is
    # unaffected by its file's removal.
    for old in BIN_DIR.glob(f"{name}-*"):
        if old.name not in (out.name, f"{out.name}.log") and ".tmp" not in old.name:
            old.unlink(missing_ok=True)
    return out


def built_seconds(binary: Path) -> str:
    """What the build log beside a binary says (how long it took), for reports."""
    log = binary.with_name(binary.name + ".log")
    return log.read_text().strip() if log.exists() else "(built earlier, no log)"


def command(name: str, bootstrap: str, prefix: str, only: str | None = None) -> list[str]:
    argv = [str(build(name)), "--bootstrap", bootstrap, "--prefix", prefix]
    return [*argv, "--only", only] if only else argv


def main(name: str, argv: list[str] | None = None) -> int:
    """`python -m conformance.clients.<name> --bootstrap ... --prefix ... [--only ...]`."""
    import sys

    try:
        binary = build(name)
    except ToolchainMissing as e:
        print(f"conformance.clients.{name}: {e}", file=sys.stderr)
        return 3
    args = sys.argv[1:] if argv is None else argv
    return subprocess.run([str(binary), *args], stdin=subprocess.DEVNULL).returncode
