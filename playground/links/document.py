"""The share/import document: what `/s/<slug>/export` downloads and `/import` reads.

Format version 1::

    {"format": "playground.scenario", "version": 1, "slug"?: str, "scenario": <spec>}
    {"format": "playground.recording", "version": 1, "slug"?: str, "title"?: str,
     "scenario": <spec>, "seed": int, "log": [{"at_ms": int, "command": {...}}, ...],
     "end_ms": int}

`validate_document` judges one completely: the scenario by
`broker_core.scenario.validate_scenario` (its paths moved under ``$.scenario``) and by the
rooms' limits (`quotas`, a `playground.rooms.quotas.Quotas`, passed in by the caller: this
module sits below the rooms app), since the document becomes a room; a recording's log by
broker_core itself, replayed on a scratch cluster under the same limits (the first entry
refused is reported at ``$.log[i].command.<field>``; later entries depend on it, so checking
stops there). Every problem is a ``(json_path, message)`` of `DocumentError`.

`export` builds the document of a slug; `parse_document` and `wrap_bare` read one from text
(what ``python -m broker_core run`` takes is taken too: a bare scenario); `recording_fields`
is what a recording document stores.
"""

import json
import logging

from django.conf import settings

from broker_core.errors import CommandError
from broker_core.scenario import (
    MAX_TEXT_CHARS,
    MAX_TIME_MS,
    ScenarioError,
    build_cluster,
    check_size,
    field_path,
    kind_of,
    load_json,
    parse_text,
    path_key,
    validate_scenario,
)
from playground.jsontext import lone_surrogates

from . import namespace

log = logging.getLogger(__name__)

SCENARIO_FORMAT = "playground.scenario"
RECORDING_FORMAT = "playground.recording"
VERSION = 1
SCENARIO_KEYS = ("format", "version", "slug", "scenario")
RECORDING_KEYS = ("format", "version", "slug", "title", "scenario", "seed", "log", "end_ms")
# Keys only the export's wrapper has: an object with none of them is a bare scenario.
WRAPPER_KEYS = ("format", "version", "slug", "scenario", "log")
MAX_LOG = 100_000
# A recording is as long as its room's command log grew (up to LOG_BYTES_MAX, 1.5 MB of
# commands, in playground/rooms/room.py), and its export is indented: a scenario document's
# limit (MAX_TEXT_CHARS) refused the export of rooms far below that.
MAX_RECORDING_CHARS = 4_000_000
# Checking a log replays it; a recording that makes the model do more than this much work
# before its last command is refused rather than tying up a web worker. A room that was left
# running at 100,000x could exceed it; such a recording is still shared by link, just not by file.
MAX_REPLAY_EVENTS = 2_000_000
# The replay runs in slices of at most this many events (each ending at an instant), counted
# and dropped as they come: checking holds one slice in memory, and stops within one slice of
# MAX_REPLAY_EVENTS however fast the recording's producers are.
REPLAY_SLICE_EVENTS = 10_000
NOT_AN_OBJECT = ("a document is an object: a scenario ({\"brokers\": 3, \"timeline\": [...], "
                 "...}) or an export ({\"format\": \"playground.scenario\", \"version\": 1, "
                 "\"scenario\": {...}})")


class DocumentError(ValueError):
    """An import document that cannot be used; `errors` lists every problem found as
    ``(json_path, message)``."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{p}: {m}" for p, m in errors))


# -- export -----------------------------------------------------------------------------------


def scenario_export(slug: str, spec: dict) -> dict:
    return {"format": SCENARIO_FORMAT, "version": VERSION, "slug": slug, "scenario": spec}


def recording_export(recording: dict) -> dict:
    """The document of a stored recording (namespace.lookup_recording's fields)."""
    doc = {"format": RECORDING_FORMAT, "version": VERSION, "slug": recording["slug"]}
    if recording["title"]:
        doc["title"] = recording["title"]
    doc.update({"scenario": recording["spec"], "seed": recording["seed"],
                "log": recording["log"], "end_ms": recording["end_ms"]})
    return doc


def export(slug: str) -> dict | None:
    """The document of whatever /s/<slug> names (the scenario first), or None."""
    scenario = namespace.lookup_scenario(slug)
    if scenario is not None:
        return scenario_export(scenario["slug"], scenario["spec"])
    recording = namespace.lookup_recording(slug)
    return None if recording is None else recording_export(recording)


# -- import -----------------------------------------------------------------------------------


def recording_fields(doc: dict, records_max: int) -> dict:
    """What a checked recording document stores (namespace.RECORDING_FIELDS but the source
    room, which an import has none of); `records_max`: the record budget it replays under."""
    return {"slug": doc.get("slug"), "title": doc.get("title") or "", "spec": doc["scenario"],
            "seed": doc["seed"], "log": doc["log"], "end_ms": doc["end_ms"],
            "records_max": records_max,
            "scenario_slug": (doc["scenario"].get("name") or "")[:64]}


def parse_document(text: str, filename: str | None) -> dict:
    """parse_text's document (JSON or YAML, at most MAX_TEXT_CHARS); beyond that, up to
    MAX_RECORDING_CHARS, a JSON recording. Raises ScenarioError."""
    if len(text) <= MAX_TEXT_CHARS:
        return parse_text(text, filename)
    too_long = ScenarioError([{"path": "$", "message": f"the document is {len(text):,} "
                               f"characters; at most {MAX_TEXT_CHARS:,} for a scenario (or "
                               f"YAML), {MAX_RECORDING_CHARS:,} for a JSON recording"}])
    if len(text) > MAX_RECORDING_CHARS or (filename or "").lower().endswith((".yaml", ".yml")):
        raise too_long
    doc = load_json(text)
    if not isinstance(doc, dict) or doc.get("format") != RECORDING_FORMAT:
        raise too_long
    return doc  # validate_document measures it (each log entry on its own) before walking it


def wrap_bare(obj) -> tuple[object, bool]:
    """(document, bare): a bare scenario -- an object with none of the export's keys, what
    `python -m broker_core run` reads -- becomes a scenario document; anything else is
    returned as it is (validate_document judges it)."""
    if isinstance(obj, dict) and not any(key in obj for key in WRAPPER_KEYS):
        return {"format": SCENARIO_FORMAT, "version": VERSION, "scenario": obj}, True
    return obj, False


def unwrapped(errors: list, bare: bool) -> list:
    """A bare scenario's errors at its own paths ($.brokers, as the CLI says), not under the
    wrapper it never had ($.scenario.brokers)."""
    if not bare:
        return errors
    return [("$" + path[len("$.scenario"):] if path.startswith("$.scenario") else
             "$" if path == "$.format" else path, message) for path, message in errors]


# -- checking a document ----------------------------------------------------------------------


def _under(path: str, prefix: str) -> str:
    return prefix + path[1:]  # "$.topics[0]" under "$.scenario" -> "$.scenario.topics[0]"


def _whole(errors, obj: dict, key: str, minimum: int, maximum: int):
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append((f"$.{key}", f"must be a whole number between {minimum:,} and "
                       f"{maximum:,}, not {kind_of(value)}"))
        return None
    if not minimum <= value <= maximum:
        errors.append((f"$.{key}", f"must be between {minimum:,} and {maximum:,}, not "
                       f"{value:,}"))
        return None
    return value


def validate_document(obj, *, quotas, check_slug: bool = True,
                      max_replay_events: int = MAX_REPLAY_EVENTS) -> dict:
    """Check an import document; return it normalized (the scenario as broker_core normalizes
    it, ``slug`` filled in for a scenario) or raise DocumentError listing every error.

    `quotas`: the rooms' limits the document is held to (None: none). With `check_slug`, a
    slug already taken by a scenario or recording is an error at ``$.slug`` (the site has one
    namespace under /s/). A recording's replay stops after `max_replay_events` events."""
    errors: list[tuple[str, str]] = []
    try:
        # Before anything walks it recursively. A recording's log may hold many more values
        # than a scenario document (its room's whole command log): each entry is measured
        # on its own, the rest as a document.
        entries = obj.get("log") if isinstance(obj, dict) else None
        if isinstance(entries, list) and obj.get("format") == RECORDING_FORMAT:
            check_size({k: v for k, v in obj.items() if k != "log"})
            for i, entry in enumerate(entries[:MAX_LOG]):
                try:
                    check_size(entry)
                except ScenarioError as e:
                    raise ScenarioError([{**err, "path": _under(err["path"], f"$.log[{i}]")}
                                         for err in e.errors]) from None
        else:
            check_size(obj)
    except ScenarioError as e:
        raise DocumentError([(err["path"], err["message"]) for err in e.errors]) from None
    if not isinstance(obj, dict):
        raise DocumentError([("$", f"a document is an object with \"format\", \"version\" "
                              f"and \"scenario\", not {kind_of(obj)}")])
    broken = _broken_text(obj)
    if broken:
        # JSON lets "\\ud800" through, but such text cannot be stored (UTF-8) nor sent to a
        # browser: refused here, where the path can still be named.
        raise DocumentError(broken)
    fmt = obj.get("format")
    if fmt not in (SCENARIO_FORMAT, RECORDING_FORMAT):
        errors.append(("$.format", f"must be \"{SCENARIO_FORMAT}\" or \"{RECORDING_FORMAT}\""
                       + ("" if fmt is None else f", not {_short(fmt)}")))
    version = obj.get("version")
    if isinstance(version, bool) or version != VERSION:
        errors.append(("$.version", f"must be {VERSION} (this site reads version {VERSION} "
                       f"documents), not {_short(version)}"))
    allowed = RECORDING_KEYS if fmt == RECORDING_FORMAT else SCENARIO_KEYS
    for key in obj:
        if key not in allowed:
            errors.append((_key_path(key), f"unknown key; a {fmt or 'document'} takes: "
                           f"{', '.join(allowed)}"))
    slug = obj.get("slug")
    if slug is not None:
        try:
            namespace.check_slug(slug, "slug")
        except CommandError as e:
            errors.append(("$.slug", e.message))
            slug = None
    spec = None
    if "scenario" not in obj:
        errors.append(("$.scenario", "is required: a scenario document (brokers, topics, "
                       "groups, producers, timeline ...)"))
    else:
        try:
            spec = validate_scenario(obj["scenario"])
        except ScenarioError as e:
            errors.extend((_under(err["path"], "$.scenario"), err["message"])
                          for err in e.errors)
        else:
            # The document becomes a room: over a room's limits it is refused here, by path,
            # not later by a room that would refuse its own timeline.
            if quotas is not None:
                errors.extend((_under(err["path"], "$.scenario"), err["message"])
                              for err in quotas.spec_errors(spec))
    out = {"format": fmt, "version": VERSION}
    if fmt == RECORDING_FORMAT:
        out.update(_recording_fields(obj, errors))
    if spec is not None and fmt == SCENARIO_FORMAT and obj.get("slug") is None:
        slug = spec["name"]  # no slug (or null): the scenario's own name
    if check_slug and slug is not None and namespace.slug_taken(slug):
        errors.append(("$.slug" if "slug" in obj else "$.scenario.name",
                       f"/s/{slug} is taken already; give the document another \"slug\""))
    if errors:
        raise DocumentError(errors)
    if fmt == SCENARIO_FORMAT:
        spec["name"] = slug
    out["slug"] = slug
    out["scenario"] = spec
    if fmt == RECORDING_FORMAT:
        _check_log(out, quotas, max_replay_events)
    return out


def _broken_text(obj) -> list[tuple[str, str]]:
    """(path, message) for every key or string holding a lone surrogate (not Unicode text)."""
    said = {"text": "is not valid Unicode text (a lone surrogate such as \\ud800)",
            "key": "has a key that is not valid Unicode text (a lone surrogate such as \\ud800)"}
    return sorted((path, said[kind]) for path, kind in
                  lone_surrogates(obj, "$", lambda path, key: _under(_key_path(key), path)))


def _short(value) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _key_path(key) -> str:
    return path_key("$", key)


def _recording_fields(obj: dict, errors: list) -> dict:
    out = {}
    title = obj.get("title")
    if title is not None and (not isinstance(title, str) or len(title) > 200):
        errors.append(("$.title", "must be a string of at most 200 characters"))
    out["title"] = title if isinstance(title, str) else None
    seed = obj.get("seed")
    if isinstance(seed, str) and 0 < len(seed) <= 200:
        # A scenario's seed may be a string (validate_scenario): its rooms' recordings too.
        out["seed"] = seed
    elif isinstance(seed, str):
        errors.append(("$.seed", "must be a whole number or a string of 1 to 200 characters"))
        out["seed"] = None
    else:
        out["seed"] = _whole(errors, obj, "seed", -(2**63), 2**63 - 1)
    end_ms = _whole(errors, obj, "end_ms", 0, MAX_TIME_MS)
    out["end_ms"] = end_ms
    entries = obj.get("log")
    out["log"] = []
    if not isinstance(entries, list):
        errors.append(("$.log", "is required: a list of {\"at_ms\", \"command\"}"
                       if entries is None else f"must be a list, not {kind_of(entries)}"))
        return out
    if len(entries) > MAX_LOG:
        errors.append(("$.log", f"may have at most {MAX_LOG:,} entries, not {len(entries):,}"))
        return out
    previous = 0
    for i, entry in enumerate(entries):
        path = f"$.log[{i}]"
        if not isinstance(entry, dict):
            errors.append((path, f"must be an object {{\"at_ms\", \"command\"}}, not "
                           f"{kind_of(entry)}"))
            continue
        for key in entry:
            if key not in ("at_ms", "command"):
                errors.append((f"{path}{_key_path(key)[1:]}", "unknown key; a log entry is "
                               "{\"at_ms\", \"command\"}"))
        at = entry.get("at_ms")
        if isinstance(at, bool) or not isinstance(at, int) or not 0 <= at <= MAX_TIME_MS:
            errors.append((f"{path}.at_ms", f"must be a whole number of ms between 0 and "
                           f"{MAX_TIME_MS:,}, not {_short(at)}"))
            at = None
        elif at < previous:
            errors.append((f"{path}.at_ms", f"must not be earlier than the entry before it "
                           f"({previous:,} ms)"))
        elif end_ms is not None and at > end_ms:
            errors.append((f"{path}.at_ms", f"is after end_ms ({end_ms:,})"))
        if at is not None:
            previous = max(previous, at)
        command = entry.get("command")
        if not isinstance(command, dict):
            errors.append((f"{path}.command", "is required: a command object with a \"type\""
                           if command is None else f"must be an object, not {kind_of(command)}"))
        elif not isinstance(command.get("type"), str):
            errors.append((f"{path}.command.type", "must be a string naming the command, "
                           "such as \"produce\""))
        out["log"].append({"at_ms": at, "command": command})
    return out


class _TooLong(Exception):
    pass


def _advance(cluster, target_ms: int, budget: list) -> None:
    """Run the scratch cluster to `target_ms`, counting the model's work (its events) as it
    goes: slices of at most REPLAY_SLICE_EVENTS events, dropped once counted, and _TooLong
    the moment the count passes the budget (never a whole stretch of virtual time first: a
    100,000/s producer makes millions of events a minute)."""
    while cluster.now_ms < target_ms:
        budget[0] -= len(cluster.advance_to(target_ms, max_events=REPLAY_SLICE_EVENTS))
        if budget[0] < 0:
            raise _TooLong


def _check_log(doc: dict, quotas, max_events: int) -> None:
    """Replay the log on a scratch cluster as a room would, under the room's limits; the
    first refused command is the error (the rest depend on it)."""
    try:
        cluster = build_cluster(doc["scenario"], seed=doc["seed"])
    except (ScenarioError, CommandError) as e:  # a seed the spec accepts but the model not
        raise DocumentError([("$.seed", str(e))]) from None
    records_max = getattr(settings, "PLAYGROUND_ROOM_RECORDS_MAX", 0)
    if records_max:
        # As a room runs it (playground/rooms/room.py), so the replay expires the same records.
        cluster.config["retained.records.max"] = records_max
    budget = [max_events]
    for i, entry in enumerate(doc["log"]):
        path = f"$.log[{i}].command"
        try:
            _advance(cluster, entry["at_ms"], budget)
            if quotas is not None:  # as Room._apply does before the model sees a command
                quotas.check_command(cluster, entry["command"])
            budget[0] -= len(cluster.apply(entry["command"]))
            if budget[0] < 0:
                raise _TooLong
        except CommandError as e:
            raise DocumentError([(field_path(entry["command"], e.field, path), e.message)]) \
                from None
        except _TooLong:
            raise DocumentError([(f"$.log[{i}].at_ms", f"replaying the recording up to here "
                                  f"makes more than {max_events:,} events; too long to "
                                  "check on upload")]) from None
        except RecursionError:
            raise DocumentError([(path, "nests too deeply")]) from None
        except Exception as e:  # a model bug must not become a server error on upload
            log.exception("the model failed replaying an uploaded recording at %s", path)
            raise DocumentError([(path, f"the model failed on this command "
                                  f"({type(e).__name__}); please report it")]) from None


