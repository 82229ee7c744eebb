"""The Java client's conformance program (Conformance.java: KafkaProducer, KafkaConsumer,
Admin), compiled once against Kafka's cached jars and run with the contract's command line:

    python -m conformance.clients.java --bootstrap HOST:PORT --prefix PREFIX [--only CHECK]

Compiled rather than run by the single-file source launcher (`java Conformance.java`): that
compiles on every run, ~2.2 s of a run against ~0.8 s for the compiled class (measured on the
2-core machine); javac once costs ~2.2 s, then the classes are reused until the source or the
Kafka version changes."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conformance import kafka

SOURCE = Path(__file__).resolve().parent / "Conformance.java"
# A small heap is plenty (the largest record is 2 MiB); C1 only and the serial collector start
# a short-lived JVM faster, which is most of what a run costs.
JVM_FLAGS = ["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto"]


def javac() -> str:
    java = Path(kafka.java())
    candidate = java.with_name("javac")
    path = str(candidate) if candidate.exists() else shutil.which("javac")
    if not path:
        raise kafka.ToolchainMissing("javac not found (a JDK, not only a JRE, is needed); on "
                                     "Debian: apt-get install openjdk-17-jdk-headless")
    return path


def build(version: str = kafka.KAFKA_VERSION) -> Path:
    """The folder of the compiled Conformance classes, compiled when missing."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    out = kafka.kafka_dir(version) / f"java-classes-{digest}"
    if (out / "Conformance.class").exists():
        return out
    kafka.check_java()
    cp = kafka.classpath(version)
    # Per process: two runs (against Kafka and the playground at once) may compile together.
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    done = subprocess.run([javac(), "-nowarn", "-cp", cp, "-d", str(tmp), str(SOURCE)],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"javac {SOURCE.name} failed:\n{done.stdout}{done.stderr}")
    try:
        tmp.rename(out)  # whole or not at all: a killed javac leaves only a .tmp folder
    except OSError:  # another run's rename came first: the same classes
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def command(bootstrap: str, prefix: str, only: str | None = None,
            version: str = kafka.KAFKA_VERSION) -> list[str]:
    """The argv that runs the checks (compiles first when needed)."""
    classes = build(version)
    argv = [kafka.check_java(), *JVM_FLAGS, *kafka.quiet_logging("warn"),
            "-cp", f"{classes}:{kafka.classpath(version)}", "Conformance",
            "--bootstrap", bootstrap, "--prefix", prefix]
    return [*argv, "--only", only] if only else argv


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m conformance.clients.java",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--only")
    args = parser.parse_args(argv)
    try:
        cmd = command(args.bootstrap, args.prefix, args.only)
    except kafka.ToolchainMissing as e:
        print(f"conformance.clients.java: {e}", file=sys.stderr)
        return 3
    return subprocess.run(cmd, stdin=subprocess.DEVNULL).returncode
