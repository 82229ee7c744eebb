"""``python -m broker_core run SCENARIO [--until DURATION] [--seed N] [--jsonl]``

Runs a scenario headless: a built-in name (``python -m broker_core run amazon-orders``) or
a JSON or YAML file. ``--jsonl`` prints every event as one line of compact JSON (the same
bytes for the same scenario, seed and duration, in any process); otherwise a summary: records
produced, acknowledged, lost; per group processed, failed, retried, dead-lettered, timed out
and lag; and the scenario's own figures. Bad input gets one message on stderr and exit
status 2, never a traceback.

Without ``--until`` the run lasts the scenario's ``duration``, or, if it has none, until
60 s after its last timeline command (at least 60 s).

``python -m broker_core events`` prints the catalogue of events (docs/EVENTS.md).
"""

import argparse
import json
import os
import sys

from .errors import CommandError
from .events import Folding, markdown
from .report import RunSummary, format_ms, format_summary
from .scenario import (
    MAX_TEXT_CHARS,
    ScenarioError,
    build_cluster,
    expand,
    parse_duration,
    parse_text,
    validate_scenario,
)
from .scenarios import BUILTIN_NAMES, load_builtin

DEFAULT_TAIL_MS = 60_000
SLICE_MS = 60_000  # events are written out a virtual minute at a time, never all held


class BadInput(Exception):
    """Something the user gave us is wrong: a message for stderr, exit status 2."""


def _seed(text: str):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None


def _duration(text: str) -> int:
    try:
        return parse_duration(text, "--until")
    except CommandError as e:
        raise argparse.ArgumentTypeError(e.message) from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m broker_core",
                                description="Run the Kafka playground's model headless.")
    commands = p.add_subparsers(dest="command", required=True, metavar="{run,steps,events}")
    run = commands.add_parser(
        "run", help="run a scenario and print its events or a summary",
        description="Run a scenario: a built-in name or a JSON/YAML file. Built-ins: "
                    + ", ".join(BUILTIN_NAMES) + ".")
    run.add_argument("scenario", metavar="SCENARIO", help="built-in name or path to a file")
    run.add_argument("--until", type=_duration, metavar="DURATION",
                     help="virtual time to run, like 90s, 10m, 2h, 1d or plain ms (default: "
                          "the scenario's duration, else 60 s after its last timeline command)")
    run.add_argument("--seed", type=_seed, metavar="N", help="override the scenario's seed")
    run.add_argument("--jsonl", action="store_true", help="print every event, one JSON per line")
    steps = commands.add_parser(
        "steps", help="walk a scenario's narration: each step's moment and what it watches",
        description="Visit each narration step's moment (its at / when) as Next does, and "
                    "print the time and what the step's watch target shows there: a check "
                    "that every step's text is true on the screen when it shows.")
    steps.add_argument("scenario", metavar="SCENARIO", help="built-in name or path to a file")
    steps.add_argument("--seed", type=_seed, metavar="N", help="override the scenario's seed")
    commands.add_parser(
        "events", help="print the catalogue of events (docs/EVENTS.md) as Markdown",
        description="Every event type the model announces, its fields and its meaning, from "
                    "broker_core/events.py.")
    return p


def load(name_or_path: str) -> dict:
    if name_or_path in BUILTIN_NAMES:
        try:
            return load_builtin(name_or_path)
        except ScenarioError as e:
            raise BadInput(f"built-in scenario {name_or_path!r} does not validate in this "
                           f"build:\n{_errors(e)}") from None
    if not os.path.isfile(name_or_path):
        raise BadInput(f"{name_or_path!r} is neither a built-in scenario nor a file; the "
                       f"built-ins are: {', '.join(BUILTIN_NAMES)}")
    try:
        with open(name_or_path, encoding="utf-8") as f:
            text = f.read(MAX_TEXT_CHARS + 1)
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"cannot read {name_or_path}: {e}") from None
    try:
        return validate_scenario(parse_text(text, name_or_path))
    except ScenarioError as e:
        raise BadInput(f"{name_or_path} is not a valid scenario:\n{_errors(e)}") from None


def _errors(e: ScenarioError) -> str:
    return "\n".join(f"  {err['path']}: {err['message']}" for err in e.errors)


def default_until_ms(spec: dict) -> int:
    if spec["duration_ms"] is not None:
        return spec["duration_ms"]
    last = max((entry["at_ms"] for entry in expand(spec)), default=0)
    return last + DEFAULT_TAIL_MS


def run(args, out) -> None:
    spec = load(args.scenario)
    seed = spec["seed"] if args.seed is None else args.seed
    until = args.until if args.until is not None else default_until_ms(spec)
    cluster = build_cluster(spec, seed=seed)
    summary = None if args.jsonl else RunSummary(spec)
    # A summary without figures needs only the per-record events' numbers: they are counted
    # by a folding sink instead of built as dicts (a day-long run is then mostly model work).
    folding = None
    if summary is not None and not summary.figures:
        folding = Folding([])
        cluster.use_sink(folding)
    events = cluster.advance(0)
    while True:
        if args.jsonl:
            out.write("".join(json.dumps(e, separators=(",", ":"), ensure_ascii=False) + "\n"
                              for e in events))
        else:
            summary.feed(events)
            if folding is not None:
                summary.feed_aggregates(folding.take())
        if cluster.now_ms >= until:
            break
        events = cluster.advance(min(SLICE_MS, until - cluster.now_ms))
    if summary is not None:
        summary.finish(cluster.snapshot())
        out.write(format_summary(spec, seed, until, summary))
    out.flush()


def walk_steps(args, out) -> None:
    from .narration import shows, walk

    spec = load(args.scenario)
    seed = spec["seed"] if args.seed is None else args.seed
    cluster = build_cluster(spec, seed=seed)
    cluster.advance(0)
    steps = spec["steps"]
    if not steps:
        out.write(f"{spec['name']} has no narration steps\n")
    for i, moment in walk(cluster, steps, default_until_ms(spec)):
        step = steps[i]
        when = "never (its event did not happen)" if moment is None else format_ms(moment)
        out.write(f"step {i + 1} at {when}: {step['title']}\n")
        if moment is not None and moment >= cluster.now_ms:
            out.write(f"  watch {json.dumps(step['watch'])}: "
                      f"{shows(cluster, step['watch']) or 'NOT THERE'}\n")
        elif moment is not None:
            out.write("  (its moment is behind the previous step's: Next would rewind)\n")
    out.flush()


def main(argv=None) -> int:
    args = parser().parse_args(argv)  # argparse reports its own errors with status 2
    try:
        if args.command == "events":
            sys.stdout.write(markdown())
        else:
            (walk_steps if args.command == "steps" else run)(args, sys.stdout)
    except BadInput as e:
        print(f"python -m broker_core: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from complaining
        # again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
