"""`make conformance`: every client program against real Apache Kafka and against the
playground, compared check by check.

Starts a real Kafka 4.x (KRaft, conformance.kafka.RealKafka) and the playground
(`manage.py runserver_kafka`, conformance.playground.Playground), runs each program in
conformance/clients/ against both with the same topic prefix, and compares what each check
observed. A difference passes only when conformance/differences.py lists it with its reason;
any other fails the run. Prints the number of compared checks and every difference, and
writes the compatibility card (docs/COMPATIBILITY.md and docs/compatibility.json, which the
site shows at /compatibility).

    python -m conformance.run [--clients java,franz,...] [--no-card] [--jobs N]

A client whose toolchain is missing (no java, go or node) is skipped with the reason, unless
CI=true, where that fails the run: CI must compare every client.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from conformance import ROOT
from conformance.differences import DIFFERENCES, NOT_YET, listed, matches

# The programs, each run as `python -m conformance.clients.<module>`, and how the card names
# the client. Order: the reference client first.
CLIENTS = {
    "java": ("conformance.clients.java", "Java kafka-clients"),
    "tools": ("conformance.clients.tools", "Kafka's command-line tools"),
    "franz": ("conformance.clients.franz", "franz-go + kadm"),
    "sarama": ("conformance.clients.sarama", "IBM sarama"),
    "kafkajs": ("conformance.clients.kafkajs", "kafkajs"),
    "confluent": ("conformance.clients.confluent", "confluent-kafka (librdkafka)"),
    "kafka_python": ("conformance.clients.kafka_python", "kafka-python"),
    "aiokafka": ("conformance.clients.aiokafka_client", "aiokafka"),
    "kcat": ("conformance.clients.kcat", "kcat"),
    "versions": ("conformance.clients.versions", "API versions (raw requests)"),
}
# The longest one program may run against one server (its own checks time out sooner).
PROGRAM_TIMEOUT_S = float(os.environ.get("CONFORMANCE_PROGRAM_TIMEOUT_S", "600"))
# Exit status a program uses to say its toolchain is missing (the contract: non-zero means
# it could not run at all; this one means "skip me, here is why" on stderr).
TOOLCHAIN_MISSING = 3
# Every program's topics and groups live in the playground's one room (each in its own prefix),
# as they do in the one Kafka: the room's limits are raised to hold them all (the defaults fit a
# classroom's room, not ten programs' worth of checks).
PLAYGROUND_ENV = {"PLAYGROUND_ROOM_TOPICS_MAX": "2000", "PLAYGROUND_ROOM_PARTITIONS_MAX": "20000",
                  "PLAYGROUND_ROOM_RECORDS_MAX": "500000"}
CARD_MD = ROOT / "docs" / "COMPATIBILITY.md"
CARD_JSON = ROOT / "docs" / "compatibility.json"


def run_program(client: str, bootstrap: str, prefix: str) -> dict:
    """{"lines": {check: parsed line}, "order": [checks], "seconds", "status", "stderr"}."""
    module = CLIENTS[client][0]
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", module, "--bootstrap", bootstrap,
                               "--prefix", prefix], cwd=ROOT, capture_output=True, text=True,
                              timeout=PROGRAM_TIMEOUT_S)
        out, err, status = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = f"timed out after {PROGRAM_TIMEOUT_S:.0f} s"
        status = "timeout"
    lines, order = {}, []
    for raw in out.splitlines():
        raw = raw.strip()
        if not raw.startswith("{"):
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            continue
        check = line.get("check")
        if isinstance(check, str) and check not in lines:
            lines[check] = line
            order.append(check)
    return {"lines": lines, "order": order, "seconds": time.monotonic() - started,
            "status": status, "stderr": err[-4000:]}


def outcome(line: dict | None) -> str:
    """A check's line as the comparison sees it: what was observed, or the error's name."""
    if line is None:
        return "(no line)"
    if "skip" in line:
        return "(skipped)"
    if "error" in line:
        return json.dumps({"error": line["error"]}, sort_keys=True)
    return json.dumps(line.get("observed"), sort_keys=True)


def compare(client: str, kafka: dict, ours: dict) -> list[dict]:
    """One row per check either run printed: {"client", "check", "status", "kafka",
    "playground", "reason"}. status: same, listed (differs, with its reason), unlisted,
    skipped (the client cannot do it: not compared), info (client.* lines, not compared)."""
    rows = []
    for check in dict.fromkeys(kafka["order"] + ours["order"]):
        k, p = kafka["lines"].get(check), ours["lines"].get(check)
        row = {"client": client, "check": check, "kafka": outcome(k), "playground": outcome(p),
               "reason": None}
        if check.startswith("client."):
            row["status"] = "info"
        elif (k is not None and "skip" in k) or (p is not None and "skip" in p):
            row["status"] = "skipped"
            row["reason"] = (k or p).get("skip")
        elif row["kafka"] == row["playground"]:
            row["status"] = "same"
        else:
            reason = listed(client, check)
            row["status"] = "listed" if reason else "unlisted"
            row["reason"] = reason
        rows.append(row)
    return rows


def toolchain_missing(result: dict) -> bool:
    return result["status"] == TOOLCHAIN_MISSING


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default=",".join(CLIENTS),
                        help="comma-separated: " + ", ".join(CLIENTS))
    parser.add_argument("--no-card", action="store_true", help="do not write the card")
    parser.add_argument("--jobs", type=int, default=2,
                        help="client programs run at once against each server (default 2)")
    args = parser.parse_args(argv)
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    unknown = [c for c in clients if c not in CLIENTS]
    if unknown:
        parser.error(f"unknown clients {unknown}; known: {', '.join(CLIENTS)}")
    ci = os.environ.get("CI") == "true"
    started = time.monotonic()

    from conformance.kafka import RealKafka, fetch
    from conformance.playground import Playground

    fetch()
    results: dict[str, dict] = {}
    with RealKafka() as kafka, Playground(env=PLAYGROUND_ENV) as playground:
        print(f"conformance: Apache Kafka at {kafka.bootstrap} (started in "
              f"{kafka.start_s:.1f} s), the playground at {playground.bootstrap} (started in "
              f"{playground.start_s:.1f} s)", flush=True)

        def both(client: str) -> tuple[str, dict, dict]:
            prefix = f"cf-{client.replace('_', '-')}"
            on_kafka = run_program(client, kafka.bootstrap, prefix)
            on_playground = run_program(client, playground.bootstrap, prefix)
            return client, on_kafka, on_playground

        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            for client, on_kafka, on_playground in pool.map(both, clients):
                results[client] = {"kafka": on_kafka, "playground": on_playground}
                print(f"  {client}: {len(on_kafka['order'])} checks on Kafka in "
                      f"{on_kafka['seconds']:.1f} s, {len(on_playground['order'])} on the "
                      f"playground in {on_playground['seconds']:.1f} s", flush=True)
        playground_log = playground.log_tail(200)

    rows, skipped_clients, broken = [], {}, []
    for client in clients:
        on_kafka, on_playground = results[client]["kafka"], results[client]["playground"]
        if toolchain_missing(on_kafka) or toolchain_missing(on_playground):
            why = (on_kafka["stderr"] or on_playground["stderr"]).strip().splitlines()
            skipped_clients[client] = why[-1] if why else "toolchain missing"
            continue
        for side, result in (("Kafka", on_kafka), ("the playground", on_playground)):
            if result["status"] != 0 or not result["order"]:
                broken.append(f"{client} against {side}: exit {result['status']}, "
                              f"{len(result['order'])} checks\n{result['stderr'][-1500:]}")
        rows += compare(client, on_kafka, on_playground)

    compared = [r for r in rows if r["status"] in ("same", "listed", "unlisted")]
    same = [r for r in compared if r["status"] == "same"]
    differ_listed = [r for r in compared if r["status"] == "listed"]
    differ_unlisted = [r for r in compared if r["status"] == "unlisted"]
    stale = sorted(f"{c}:{k}" for (c, k) in DIFFERENCES
                   if (c == "*" or c in clients) and not any(
                       r["status"] == "listed" and matches(k, r["check"])
                       and c in ("*", r["client"]) for r in rows))

    ran = len(clients) - len(skipped_clients)
    print(f"\nconformance: {len(compared)} checks compared across {ran} "
          f"clients: {len(same)} the same as Apache Kafka, {len(differ_listed)} differ on "
          f"purpose, {len(differ_unlisted)} differ unlisted "
          f"({time.monotonic() - started:.0f} s)")
    if differ_listed:
        print("\nDifferences listed on purpose (conformance/differences.py):")
        for r in differ_listed:
            print(f"  {r['client']} {r['check']}: {r['reason']}\n"
                  f"      Kafka: {r['kafka']}\n      playground: {r['playground']}")
    if differ_unlisted:
        print("\nDIFFERENCES NOT LISTED (each one fails the run):")
        for r in differ_unlisted:
            print(f"  {r['client']} {r['check']}\n      Kafka: {r['kafka']}\n"
                  f"      playground: {r['playground']}")
    if stale:
        print(f"\nListed differences that no longer differ (remove them): {', '.join(stale)}")
    for client, why in skipped_clients.items():
        print(f"\nskipped {client}: {why}")
    for b in broken:
        print(f"\nBROKEN RUN: {b}")
    if (differ_unlisted or broken) and playground_log:
        print("\nThe playground's log (last lines):\n" + playground_log)

    if not args.no_card:
        write_card(clients, rows, results, skipped_clients)
        print(f"\nwrote {CARD_MD.relative_to(ROOT)} and {CARD_JSON.relative_to(ROOT)}")
    failed = bool(differ_unlisted or broken or (ci and skipped_clients))
    return 1 if failed else 0


# -- the compatibility card ----------------------------------------------------------------------

VERDICT = {"same": "works", "listed": "differs on purpose", "unlisted": "not yet"}


def verdict(row: dict) -> str:
    if row["status"] == "summed":
        return row["verdict"]
    if row["status"] == "listed" and (row["reason"] or "").startswith(NOT_YET):
        return "not yet"
    return VERDICT.get(row["status"], row["status"])


# Checks the card shows as one row each, summed up (the versions program's 181 lines: one per
# API and probe): (prefix, the row's name).
SUMMED = (("versions.", "versions.*"),)
SEVERITY = ["works", "differs on purpose", "not yet"]


def summed(rows: list[dict]) -> list[dict]:
    """`rows` with each SUMMED family of one client folded into one row: its verdict is the
    worst of them, its reason counts them."""
    out, families = [], {}
    for r in rows:
        family = next((name for prefix, name in SUMMED if r["check"].startswith(prefix)), None)
        if family is None or r["status"] in ("info", "skipped"):
            if family is None:
                out.append(r)
            continue
        families.setdefault((r["client"], family), []).append(r)
    for (client, family), members in families.items():
        counts = {}
        for r in members:
            counts[verdict(r)] = counts.get(verdict(r), 0) + 1
        worst = max(counts, key=lambda v: SEVERITY.index(v) if v in SEVERITY else 3)
        out.append({"client": client, "check": family, "status": "summed", "verdict": worst,
                    "reason": ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))})
    return out


def write_card(clients: list[str], rows: list[dict], results: dict, skipped: dict) -> None:
    rows = summed(rows)
    versions = {}
    for client in clients:
        line = results[client]["playground"]["lines"].get("client.version")
        if line is not None:
            versions[client] = str(line.get("observed"))
    checks = list(dict.fromkeys(r["check"] for r in rows if r["status"] != "info"))
    cell = {(r["client"], r["check"]): r for r in rows}
    from conformance.kafka import KAFKA_VERSION

    card = {
        "generated": datetime.now(UTC).strftime("%Y-%m-%d"),
        "kafka_version": KAFKA_VERSION,
        "clients": [{"id": c, "name": CLIENTS[c][1], "version": versions.get(c),
                     "skipped": skipped.get(c)} for c in clients],
        "checks": checks,
        "cells": [{"client": r["client"], "check": r["check"],
                   "verdict": verdict(r), "reason": r["reason"]}
                  for r in rows if r["status"] != "info"],
        "differences": [{"client": c, "check": k, "reason": why}
                        for (c, k), why in sorted(DIFFERENCES.items())],
    }
    CARD_JSON.write_text(json.dumps(card, indent=1, sort_keys=True) + "\n")

    out = ["# Compatibility card", "",
           f"Generated by `make conformance` on {card['generated']}: each client program ran "
           f"the same checks against Apache Kafka {KAFKA_VERSION} (KRaft, one node) and "
           "against the playground's wire listener; a check **works** when the application "
           "observed the same thing on both (normalised for ids and times), **differs on "
           "purpose** when the difference is listed in `conformance/differences.py` with its "
           "reason, and is **not yet** otherwise. The site shows this card at /compatibility.",
           ""]
    header = "| check | " + " | ".join(
        CLIENTS[c][1] + (f" ({versions[c]})" if c in versions else "") for c in clients) + " |"
    out += [header, "|" + "---|" * (len(clients) + 1)]
    short = {"works": "works", "differs on purpose": "differs*", "not yet": "not yet",
             "skipped": "—"}
    for check in checks:
        cells = []
        for c in clients:
            r = cell.get((c, check))
            if c in skipped or r is None:
                cells.append("")
            else:
                cells.append(short.get(verdict(r), r["status"]))
        out.append(f"| `{check}` | " + " | ".join(cells) + " |")
    out += ["", "— the client cannot do this check; * differs on purpose. `versions.*` is one "
            "row for the raw-requests program's checks: each API's advertised version range, "
            "and what a request one version below its floor and one above its maximum gets. "
            "The reasons, and what is not done yet:", ""]
    by_reason: dict[str, list[str]] = {}
    for (c, k), why in DIFFERENCES.items():
        who = "" if c == "*" else f" ({CLIENTS.get(c, (c, c))[1]})"
        by_reason.setdefault(why, []).append(f"`{k}`{who}")
    for why, checks in by_reason.items():
        out.append(f"- {', '.join(checks)}: {why}")
    for c, why in skipped.items():
        out.append(f"- {CLIENTS[c][1]} was not run: {why}")
    CARD_MD.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    sys.exit(main())
