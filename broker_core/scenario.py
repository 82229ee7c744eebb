"""Scenarios: a story about a cluster, written down as one JSON (or YAML) document.

Theory of operation
-------------------
At bottom a scenario is ``brokers`` plus a ``timeline``: a list of ``{"at_ms", "command"}``
whose commands are the contract's (DESIGN.md). Every other key is a convenience that expands
to such commands, so there is exactly one way anything happens in a scenario run:

    topics[i]     -> topic.create at 0
    groups[i]     -> group.configure at 0 (the group's policy), then one consumer.add per
                     consumer (``consumers`` is a count or a list; ``consumer`` holds the
                     settings every consumer of the group shares; ``topics`` their default)
    producers[i]  -> producer.add at ``start_ms`` (0), producer.remove at ``stop_ms`` or after
                     ``count`` records
    timeline[i]   -> the command itself, at ``at_ms``

`expand` merges these by time; at the same instant the conveniences come first, in the order
above, then the timeline in document order. Narration (`steps`) is not on the timeline: a
step's ``commands`` run when the viewer moves to that step, through the host, like any other
external command. ``figures`` name per-record waits a report should print (the time from one
event about a record to another about the same record, such as a customer's wait from
``record.produced`` to ``record.acked``).

Validation collects every error, each with the JSON path of the offending value
(``$.topics[1].partitions``), never just the first. The document's own shape is checked here;
the commands it expands to are checked by the model itself: they are applied in order to a
scratch `Cluster` (at one instant, so the check never runs a simulation), and a
`CommandError`'s field is mapped back to where the value came from in the document. A command
that fails is reported and skipped, and checking goes on with the next. A command that is only
valid because of something virtual time does first (a crashed consumer's session expiring) is
therefore reported; write the timeline so that each command makes sense given the ones before.

`build_cluster` builds the cluster and puts the timeline on its clock. Timeline
commands are the scenario's, not the user's: they do not enter ``cluster.command_log``, so a
recording is (spec, seed, command log) and a replay is `build_cluster` plus the log. If a
timeline command has become invalid by its time (the user deleted the topic it produces to),
the run announces ``command.rejected`` rather than stopping.
"""

import copy
import json
import math
import re

from .cluster import MAX_BROKERS, Cluster
from .errors import CommandError
from .narration import EVENT_TYPES, check_when

MAX_TEXT_CHARS = 1_000_000     # a scenario document, JSON or YAML
MAX_NODES = 200_000            # values in a parsed document, counting each alias every time
MAX_DEPTH = 64
MAX_TIME_MS = 365 * 86_400_000
MAX_TOPICS = 100
MAX_GROUPS = 50
MAX_CONSUMERS = 200            # in all groups together
MAX_PRODUCERS = 50
MAX_TIMELINE = 10_000
MAX_STEPS = 100
MAX_STEP_COMMANDS = 50
MAX_FIGURES = 20
MAX_REPLICAS = 20_000         # partition replicas of all the scenario's topics together
MAX_ERRORS = 200               # a hopeless document reports this many, then says so

_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_DURATION = re.compile(r"\s*([0-9]{1,12})\s*(ms|s|m|h|d)?\s*")
_UNIT_MS = {None: 1, "ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RECORD = re.compile(r"(.+)/([0-9]{1,9})/([0-9]{1,18})")

TOP_LEVEL_KEYS = ("name", "title", "description", "teaches", "seed", "brokers", "cluster_config",
                  "duration", "duration_ms", "topics", "groups", "producers", "timeline",
                  "steps", "figures")
GROUP_DOC_KEYS = ("name", "topics", "consumer", "consumers")
PRODUCER_DOC_KEYS = ("start_ms", "stop_ms", "count")


class ScenarioError(Exception):
    """An invalid scenario document. `errors` lists every problem found, each
    ``{"path": "$.topics[1].partitions", "message": "..."}``."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        lines = [f"{e['path']}: {e['message']}" for e in errors]
        super().__init__(f"invalid scenario ({len(errors)} error"
                         f"{'' if len(errors) == 1 else 's'}):\n  " + "\n  ".join(lines))


def path_key(path: str, key) -> str:
    """`path` extended by an object key: ``$.a.b``, or ``$.a["retention.ms"]`` when needed."""
    key = str(key)
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def check_scenario_name(name, field: str = "name") -> str:
    """A scenario's name, which is also its short link (``/s/<name>``): the rule the document
    check applies, for code that names scenarios outside a document (a library, a form)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise CommandError(field, "a scenario name is 1-64 lowercase letters, digits and '-', "
                           "starting with a letter or digit")
    return name


# -- reading text -----------------------------------------------------------------------------


def _measure(value, errors: list) -> None:
    """Refuse documents too big or too deep once parsed; aliases count every time they are
    used, so a YAML "billion laughs" stops here instead of in whatever walks it next."""
    count = 0
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            errors.append({"path": "$", "message": f"the document has more than {MAX_NODES:,} "
                           "values (YAML aliases count each time they are used)"})
            return
        if depth > MAX_DEPTH:
            errors.append({"path": "$", "message": f"the document nests deeper than {MAX_DEPTH} "
                           "levels"})
            return
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def check_size(value) -> None:
    """Raise ScenarioError if a parsed document (any JSON value) is too big or too deep to walk
    safely: the limits `parse_text` applies, for documents that arrive already parsed."""
    errors: list = []
    _measure(value, errors)
    if errors:
        raise ScenarioError(errors)


def _load_yaml(text: str):
    try:
        import yaml  # only scenario files need it; broker_core itself is standard library only
    except ImportError:
        raise ScenarioError([{"path": "$", "message": "YAML needs PyYAML (pip install -r "
                              "requirements.txt); JSON works without it"}]) from None
    try:
        # safe_load builds plain dicts, lists and scalars only: no Python objects from tags.
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ScenarioError([{"path": "$", "message": f"not valid YAML{where}: {problem}"}]) \
            from None


def _plain(value, path: str = "$"):
    """YAML can give non-string keys and dates; a scenario is JSON, so refuse what JSON has not."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ScenarioError([{"path": path, "message": f"key {k!r} must be a string"}])
            out[k] = _plain(v, path_key(path, k))
        return out
    if isinstance(value, list):
        return [_plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise ScenarioError([{"path": path, "message": "must be a finite number"}])
    raise ScenarioError([{"path": path, "message": f"a {type(value).__name__} is not a JSON "
                          "value; quote it"}])


TOO_MANY_DIGITS = "a number has more digits than any field takes (over 4,300)"


def _json_object(pairs: list) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen, again = set(), []
        for key, _ in pairs:
            if key in seen and key not in again:
                again.append(key)
            seen.add(key)
        obj[_REPEATED] = again  # found again by _repeated_keys, then removed
    return obj


_REPEATED = object()  # a key no JSON text can produce


def _repeated_keys(root) -> list[dict]:
    """Errors for the keys JSON objects repeat (the parser would keep the last silently, so a
    document saying two things -- two "slug"s -- would be read as one of them); removes the
    markers `_json_object` left."""
    errors, stack = [], [("$", root)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key in node.pop(_REPEATED, ()):
                errors.append({"path": path_key(path, key),
                               "message": "appears more than once in its object; keep one"})
            stack += [(path_key(path, k), v) for k, v in node.items()]
        elif isinstance(node, list):
            stack += [(f"{path}[{i}]", v) for i, v in enumerate(node)]
    return sorted(errors, key=lambda e: e["path"])


def load_json(text: str):
    """JSON text as Python values, or a ScenarioError saying what is wrong at which path: not
    JSON, nested too deeply, a number too long to convert, a key repeated in its object."""
    try:
        doc = json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as e:
        raise ScenarioError([{"path": "$", "message": f"not valid JSON (line {e.lineno}, "
                              f"column {e.colno}): {e.msg}"}]) from None
    except ValueError:  # an int longer than Python converts (4,300 digits)
        raise ScenarioError([{"path": "$", "message": TOO_MANY_DIGITS}]) from None
    except RecursionError:
        raise ScenarioError([{"path": "$", "message": "the document nests too deeply"}]) \
            from None
    errors = _repeated_keys(doc)
    if errors:
        raise ScenarioError(errors)
    return doc


def parse_text(text: str, filename: str | None = None) -> dict:
    """Parse a scenario document (JSON, or YAML when the file name says so or the text is not
    JSON). Returns the raw document; `validate_scenario` checks it."""
    if not isinstance(text, str):
        raise ScenarioError([{"path": "$", "message": "the document must be text"}])
    if len(text) > MAX_TEXT_CHARS:
        raise ScenarioError([{"path": "$", "message": f"the document is {len(text):,} "
                              f"characters; at most {MAX_TEXT_CHARS:,}"}])
    lower = (filename or "").lower()
    as_yaml = lower.endswith((".yaml", ".yml"))
    try:
        if as_yaml:
            doc = _load_yaml(text)
        else:
            try:
                doc = load_json(text)
            except ScenarioError:
                if lower.endswith(".json") or text.lstrip()[:1] in ("{", "["):
                    raise
                doc = _load_yaml(text)  # not JSON, and does not look like it: YAML
    except RecursionError:
        raise ScenarioError([{"path": "$", "message": "the document nests too deeply"}]) \
            from None
    except ValueError:  # JSON's or YAML's: an int longer than Python converts (4,300 digits)
        raise ScenarioError([{"path": "$", "message": TOO_MANY_DIGITS}]) from None
    errors: list[dict] = []
    _measure(doc, errors)
    if errors:
        raise ScenarioError(errors)
    doc = _plain(doc)
    if not isinstance(doc, dict):
        raise ScenarioError([{"path": "$", "message": "a scenario is an object with at least "
                              "'brokers' and 'timeline'"}])
    return doc


def parse_duration(value, field: str = "duration") -> int:
    """Milliseconds from ``90s``, ``10m``, ``2h``, ``1d``, ``250ms`` or a plain number of ms."""
    if isinstance(value, bool):
        raise CommandError(field, "must be a duration such as 90s, 10m, 2h, 1d or a number of ms")
    if isinstance(value, int):
        ms = value
    elif isinstance(value, float) and value.is_integer():
        ms = int(value)
    elif isinstance(value, str) and (m := _DURATION.fullmatch(value)):
        ms = int(m.group(1)) * _UNIT_MS[m.group(2)]
    else:
        raise CommandError(field, f"must be a duration such as 90s, 10m, 2h, 1d or a number of "
                           f"ms, not {value!r}")
    if not 1 <= ms <= MAX_TIME_MS:
        raise CommandError(field, f"must be between 1 ms and 365 days, not {ms:,} ms")
    return ms


# -- validating the document ------------------------------------------------------------------


class _Errors:
    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, path: str, message: str) -> None:
        item = {"path": path, "message": message}
        if item in self.items:
            return  # a group's shared consumer setting fails once per consumer: say it once
        if len(self.items) < MAX_ERRORS:
            self.items.append({"path": path, "message": message})
        elif len(self.items) == MAX_ERRORS:
            self.items.append({"path": "$", "message": f"more than {MAX_ERRORS} errors; the "
                               "rest are not listed"})


def _string(e: _Errors, doc: dict, key: str, path: str, *, default=None, max_length=200,
            required=False):
    value = doc.get(key)
    if value is None:
        if required:
            e.add(path_key(path, key), "is required")
        return default
    if not isinstance(value, str):
        e.add(path_key(path, key), f"must be a string, not {kind_of(value)}")
        return default
    if len(value) > max_length:
        e.add(path_key(path, key), f"must be at most {max_length:,} characters, not "
              f"{len(value):,}")
        return default
    return value


def kind_of(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _whole(e: _Errors, value, path: str, minimum: int, maximum: int, what="a whole number"):
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            e.add(path, f"must be {what} between {minimum:,} and {maximum:,}, not {kind_of(value)}")
            return None
    if not minimum <= value <= maximum:
        e.add(path, f"must be {what} between {minimum:,} and {maximum:,}, not {value:,}")
        return None
    return value


def _list(e: _Errors, doc: dict, key: str, limit: int) -> list:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        e.add(f"$.{key}", f"must be a list, not {kind_of(value)}")
        return []
    if len(value) > limit:
        e.add(f"$.{key}", f"may have at most {limit:,} entries, not {len(value):,}")
        return []
    return value


def _objects(e: _Errors, items: list, path: str):
    """(index, entry) for each entry that is an object; the others are reported."""
    for i, item in enumerate(items):
        if isinstance(item, dict):
            yield i, item
        else:
            e.add(f"{path}[{i}]", f"must be an object, not {kind_of(item)}")


def validate_scenario(doc) -> dict:
    """Check a scenario document completely; return its normalized spec or raise
    ScenarioError listing every error with its JSON path. Normalizing twice changes nothing,
    so a stored spec validates again as itself."""
    e = _Errors()
    if not isinstance(doc, dict):
        raise ScenarioError([{"path": "$", "message": "a scenario is an object with at least "
                              "'brokers' and 'timeline'"}])
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            e.add(path_key("$", key), f"unknown key; a scenario takes: {', '.join(TOP_LEVEL_KEYS)}")
    spec: dict = {}
    name = _string(e, doc, "name", "$", default="scenario", max_length=64)
    if name != "scenario":
        try:
            check_scenario_name(name)
        except CommandError as err:
            e.add("$.name", err.message)
    spec["name"] = name
    spec["title"] = _string(e, doc, "title", "$", default=name)
    spec["description"] = _string(e, doc, "description", "$", default="", max_length=5_000)
    spec["teaches"] = _string(e, doc, "teaches", "$", default="", max_length=500)
    seed = doc.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, (int, str)) or (
            isinstance(seed, str) and len(seed) > 200) or (
            isinstance(seed, int) and not -2**63 <= seed < 2**63):
        e.add("$.seed", "must be a whole number or a string of at most 200 characters")
        seed = 0
    spec["seed"] = seed
    brokers = None
    if "brokers" not in doc:
        e.add("$.brokers", "is required: how many brokers the cluster has (1-16)")
    else:
        brokers = _whole(e, doc["brokers"], "$.brokers", 1, 16)
    spec["brokers"] = brokers
    cluster_config = doc.get("cluster_config") or {}
    if not isinstance(cluster_config, dict):
        e.add("$.cluster_config", f"must be an object, not {kind_of(cluster_config)}")
        cluster_config = {}
    spec["cluster_config"] = dict(cluster_config)
    spec["duration_ms"] = None
    if "duration" in doc and "duration_ms" in doc:
        e.add("$.duration", "give either duration or duration_ms, not both")
    for key in ("duration", "duration_ms"):
        if doc.get(key) is not None:
            try:
                spec["duration_ms"] = parse_duration(doc[key], key)
            except CommandError as err:
                e.add(f"$.{key}", err.message)
    if "timeline" not in doc:
        e.add("$.timeline", "is required: a list of {\"at_ms\", \"command\"} (it may be empty)")

    # Entries that fail their own checks stay as None, so later errors keep their document
    # index; a valid spec has none.
    topics = _list(e, doc, "topics", MAX_TOPICS)
    spec["topics"] = [None] * len(topics)
    for i, t in _objects(e, topics, "$.topics"):
        spec["topics"][i] = copy.deepcopy(t)
    spec["groups"] = _groups(e, doc)
    spec["producers"] = _producers(e, doc)
    spec["timeline"] = _timeline(e, doc)
    spec["steps"] = _steps(e, doc)
    spec["figures"] = _figures(e, doc)
    # The commands are the model's to judge: only a document whose shape is sound gets there,
    # since a convenience entry that is not an object has no command to try.
    _check_commands(e, spec, doc)
    if e.items:
        raise ScenarioError(e.items)
    return spec


def _groups(e: _Errors, doc: dict) -> list[dict]:
    items = _list(e, doc, "groups", MAX_GROUPS)
    out = [None] * len(items)
    consumers_total = 0
    for i, g in _objects(e, items, "$.groups"):
        path = f"$.groups[{i}]"
        entry = copy.deepcopy(g)
        if not isinstance(g.get("name"), str):
            e.add(f"{path}.name", "is required: the group id" if g.get("name") is None
                  else f"must be a string, not {kind_of(g.get('name'))}")
            continue
        shared = g.get("consumer", {})
        if not isinstance(shared, dict):
            e.add(f"{path}.consumer", f"must be an object of settings every consumer shares, "
                  f"not {kind_of(shared)}")
            continue
        for key in ("group", "type"):
            if key in shared:
                e.add(f"{path}.consumer.{key}", "unknown field; the group's consumers take "
                      "their group from the entry's name")
        consumers = g.get("consumers", [])
        if isinstance(consumers, bool) or not isinstance(consumers, (int, list)):
            e.add(f"{path}.consumers", "must be a number of consumers or a list of consumer "
                  "objects")
            continue
        if isinstance(consumers, int):
            if not 0 <= consumers <= MAX_CONSUMERS:
                e.add(f"{path}.consumers", f"must be between 0 and {MAX_CONSUMERS}")
                continue
            consumers = [{} for _ in range(consumers)]
        good = True
        for j, c in enumerate(consumers):
            if not isinstance(c, dict):
                e.add(f"{path}.consumers[{j}]", f"must be an object, not {kind_of(c)}")
                good = False
            else:
                for key in ("group", "type"):
                    if key in c:
                        e.add(f"{path}.consumers[{j}].{key}", "unknown field; a consumer takes "
                              "its group from the entry's name")
                        good = False
        consumers_total += len(consumers)
        if consumers_total > MAX_CONSUMERS:
            e.add(f"{path}.consumers", f"the groups have more than {MAX_CONSUMERS} consumers "
                  "in all")
            good = False
        if not good:
            continue
        entry["consumers"] = copy.deepcopy(consumers)
        out[i] = entry
    return out


def _producers(e: _Errors, doc: dict) -> list[dict]:
    items = _list(e, doc, "producers", MAX_PRODUCERS)
    out = [None] * len(items)
    for i, p in _objects(e, items, "$.producers"):
        path = f"$.producers[{i}]"
        entry = copy.deepcopy(p)
        good = True
        start = 0
        if "start_ms" in p:
            start = _whole(e, p["start_ms"], f"{path}.start_ms", 0, MAX_TIME_MS)
            good = start is not None
        if "stop_ms" in p:
            stop = _whole(e, p["stop_ms"], f"{path}.stop_ms", 0, MAX_TIME_MS)
            if stop is None:
                good = False
            elif start is not None and stop <= start:
                e.add(f"{path}.stop_ms", f"must be after start_ms ({start:,})")
                good = False
        if "count" in p:
            good = _whole(e, p["count"], f"{path}.count", 1, 100_000_000) is not None and good
            if "stop_ms" in p:
                e.add(f"{path}.count", "give either count or stop_ms, not both")
                good = False
        if good and "count" in p:
            stop = _producer_stop_ms(p)
            if stop is not None and stop > MAX_TIME_MS:
                e.add(f"{path}.count", "at this rate the producer would still be sending "
                      "after 365 days")
                good = False
        if good:
            out[i] = entry
    return out


def _timeline(e: _Errors, doc: dict) -> list[dict]:
    items = _list(e, doc, "timeline", MAX_TIMELINE)
    out = [None] * len(items)
    for i, item in _objects(e, items, "$.timeline"):
        path = f"$.timeline[{i}]"
        good = True
        for key in item:
            if key not in ("at_ms", "command"):
                e.add(path_key(path, key), "unknown key; a timeline entry is {\"at_ms\", "
                      "\"command\"}")
                good = False
        at = _whole(e, item.get("at_ms"), f"{path}.at_ms", 0, MAX_TIME_MS,
                    "a whole number of ms") if "at_ms" in item else None
        if "at_ms" not in item:
            e.add(f"{path}.at_ms", "is required: when the command runs, in virtual ms")
        command = item.get("command")
        if not isinstance(command, dict):
            e.add(f"{path}.command", "is required: a command object with a 'type'"
                  if command is None else f"must be an object, not {kind_of(command)}")
            good = False
        if at is None:
            good = False
        if good:
            out[i] = {"at_ms": at, "command": copy.deepcopy(command)}
    return out


STEP_KEYS = ("title", "text", "at", "at_ms", "when", "watch", "try", "commands", "view")
# How the page draws the cluster from this step on: "topics" (each partition once, its replicas
# as marks; the default) or "brokers" (every replica a lane on its broker, for replication).
STEP_VIEWS = ("topics", "brokers")
TRY_KEYS = ("topic", "key", "value", "partition")


def _steps(e: _Errors, doc: dict) -> list[dict]:
    items = _list(e, doc, "steps", MAX_STEPS)
    out = [None] * len(items)
    previous_at = (None, 0)  # the latest `at` so far: (step index, ms)
    for i, s in _objects(e, items, "$.steps"):
        path = f"$.steps[{i}]"
        for key in s:
            if key not in STEP_KEYS:
                e.add(path_key(path, key), "unknown key; a step takes " + ", ".join(STEP_KEYS))
        step = {"title": _string(e, s, "title", path, default="", required=True),
                "text": _string(e, s, "text", path, default="", max_length=5_000),
                "commands": [], "watch": None, "at_ms": None, "when": None, "try": None}
        commands = s.get("commands")
        if commands is not None:
            if not isinstance(commands, list):
                e.add(f"{path}.commands", f"must be a list of commands, not {kind_of(commands)}")
            elif len(commands) > MAX_STEP_COMMANDS:
                e.add(f"{path}.commands", f"may have at most {MAX_STEP_COMMANDS} commands")
            else:
                for j, c in enumerate(commands):
                    if not isinstance(c, dict):
                        e.add(f"{path}.commands[{j}]", f"must be a command object, not "
                              f"{kind_of(c)}")
                step["commands"] = copy.deepcopy(commands)
        # The step's moment: a virtual time, an event, or both (the first such event from
        # that time on). narration.py says how a room gets there.
        if s.get("at") is not None and s.get("at_ms") is not None:
            e.add(f"{path}.at_ms", "give at or at_ms, not both")
        # A normalized spec says None for "no moment". `at_ms` is a timeline's `at_ms`; `at`
        # a duration ("20s"), where the start of the story ("0s") is a moment too.
        if s.get("at_ms") is not None:
            step["at_ms"] = _whole(e, s["at_ms"], f"{path}.at_ms", 0, MAX_TIME_MS)
        if s.get("at") is not None:
            at = s["at"]
            zero = isinstance(at, str) and (m := _DURATION.fullmatch(at)) and int(m.group(1)) == 0
            try:
                step["at_ms"] = 0 if zero or (at == 0 and not isinstance(at, bool)) else \
                    parse_duration(at, "at")
            except CommandError as err:
                e.add(f"{path}.at", err.message)
        if s.get("when") is not None:
            try:
                step["when"] = check_when(s["when"])
            except CommandError as err:
                e.add(f"{path}.{err.field}", err.message)
        if i == 0 and not step["commands"] and step["at_ms"] is None and step["when"] is None:
            step["at_ms"] = 0  # the story starts where the room opens: Back to it rewinds
        if step["commands"] and (step["at_ms"] is not None or step["when"] is not None):
            e.add(f"{path}.commands", "a step with commands happens when Next is pressed, so "
                  "it takes no at or when; put timed commands on the timeline")
        if step["at_ms"] is not None:
            before, before_ms = previous_at
            if step["at_ms"] < before_ms:
                e.add(f"{path}.{'at' if s.get('at') is not None else 'at_ms'}",
                      f"must not be earlier than step {before + 1}'s ({before_ms:,} ms): "
                      "the story goes forward in time")
            else:
                previous_at = (i, step["at_ms"])
        watch = s.get("watch")
        if watch is not None:
            step["watch"] = _watch(e, watch, f"{path}.watch")
        if s.get("try") is not None:
            step["try"] = _try(e, s["try"], f"{path}.try")
        # Only where given, so a story without views normalizes as it always did.
        if s.get("view") is not None:
            if s["view"] not in STEP_VIEWS:
                e.add(f"{path}.view", f"must be one of {', '.join(STEP_VIEWS)}, not {s['view']!r}")
            else:
                step["view"] = s["view"]
        out[i] = step
    return out


def _try(e: _Errors, value, path: str):
    """A "try it yourself" for the step: the produce form, filled in for the learner."""
    if not isinstance(value, dict):
        e.add(path, "must be an object such as {\"topic\": \"orders\", \"key\": \"order-7\", "
              f"\"value\": \"...\"}}, not {kind_of(value)}")
        return None
    good = True
    for key in value:
        if key not in TRY_KEYS:
            e.add(path_key(path, key), "unknown key; a try takes " + ", ".join(TRY_KEYS))
            good = False
    if not isinstance(value.get("topic"), str) or not value.get("topic"):
        e.add(f"{path}.topic", "is required: the topic the form produces to")
        good = False
    for key in ("key", "value"):
        if key in value and (not isinstance(value[key], str) or len(value[key]) > 1_000):
            e.add(f"{path}.{key}", "must be a string of at most 1,000 characters")
            good = False
    if "partition" in value and _whole(e, value["partition"], f"{path}.partition", 0,
                                       999) is None:
        good = False
    return dict(value) if good else None


def _watch(e: _Errors, watch, path: str):
    """What the page should point at: a partition, a group, a consumer, a producer, a record
    or a broker. Names are checked against the run later, in _check_commands."""
    if not isinstance(watch, dict):
        e.add(path, f"must be an object such as {{\"topic\": ..., \"partition\": 0}}, "
              f"{{\"group\": ...}}, {{\"record\": \"topic/partition/offset\"}} or "
              f"{{\"broker\": 1}}, not {kind_of(watch)}")
        return None
    kinds = [k for k in ("topic", "consumer", "group", "producer", "record", "broker")
             if k in watch]
    if "consumer" in kinds:
        kinds.remove("group") if "group" in kinds else None
    allowed = {"topic": ("topic", "partition"), "group": ("group",), "record": ("record",),
               "broker": ("broker",), "consumer": ("group", "consumer"),
               "producer": ("producer",)}
    if len(kinds) != 1:
        e.add(path, "must name exactly one of topic (with an optional partition), group, "
              "consumer (with its group), producer, record or broker")
        return None
    kind = kinds[0]
    for key in watch:
        if key not in allowed[kind]:
            e.add(path_key(path, key), f"unknown key for a {kind} watch")
            return None
    value = watch[kind]
    if kind == "broker":
        return None if _whole(e, value, f"{path}.broker", 1, 16) is None else dict(watch)
    if kind == "consumer" and not isinstance(watch.get("group"), str):
        e.add(f"{path}.group", "is required with a consumer: the group it belongs to")
        return None
    if not isinstance(value, str) or not value:
        e.add(f"{path}.{kind}", f"must be a non-empty string, not {kind_of(value)}")
        return None
    if kind == "record" and not _RECORD.fullmatch(value):
        e.add(f"{path}.record", "must be \"topic/partition/offset\", such as "
              "\"order-placed/0/3\"")
        return None
    if "partition" in watch and _whole(e, watch["partition"], f"{path}.partition", 0,
                                       999) is None:
        return None
    return dict(watch)


_FILTER_KEYS = ("type", "topic", "group", "consumer", "producer", "partition")


def _figures(e: _Errors, doc: dict) -> list[dict]:
    items = _list(e, doc, "figures", MAX_FIGURES)
    out = [None] * len(items)
    for i, f in _objects(e, items, "$.figures"):
        path = f"$.figures[{i}]"
        good = True
        for key in f:
            if key not in ("label", "from", "to"):
                e.add(path_key(path, key), "unknown key; a figure takes label, from, to")
                good = False
        label = _string(e, f, "label", path, required=True)
        good = good and label is not None
        for end in ("from", "to"):
            flt = f.get(end)
            if not isinstance(flt, dict):
                e.add(f"{path}.{end}", "is required: an event filter such as {\"type\": "
                      "\"record.produced\", \"topic\": \"order-placed\"}")
                good = False
                continue
            for key, value in flt.items():
                if key not in _FILTER_KEYS:
                    e.add(path_key(f"{path}.{end}", key), f"unknown key; a filter takes "
                          f"{', '.join(_FILTER_KEYS)}")
                    good = False
                elif key == "partition":
                    good = _whole(e, value, f"{path}.{end}.partition", 0, 999) is not None \
                        and good
                elif not isinstance(value, str):
                    e.add(f"{path}.{end}.{key}", f"must be a string, not {kind_of(value)}")
                    good = False
            if "type" not in flt:
                e.add(f"{path}.{end}.type", "is required: the event type")
                good = False
            elif isinstance(flt["type"], str) and flt["type"] not in EVENT_TYPES:
                # A misspelt type never matches: the figure would wait for ever, silently.
                e.add(f"{path}.{end}.type", f"no event is called {flt['type']!r}")
                good = False
        if good:
            out[i] = copy.deepcopy(f)
    return out


# -- expanding to commands --------------------------------------------------------------------


def _producer_stop_ms(p: dict) -> int | None:
    """When a producer with `count` has sent its last record: one ms after record count-1 is
    due, the same formula as ProducerWorkload.due_ms. Timeline actions run before a producer's
    tick at the same instant (they were scheduled first), so stopping exactly there is safe."""
    if "stop_ms" in p:
        return p["stop_ms"]
    if "count" not in p:
        return None
    rate = p.get("rate_per_s")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0 \
            or not math.isfinite(rate):
        return None  # the model reports the bad rate
    start = p.get("start_ms", 0)
    return start + math.ceil((p["count"] - 1) * 1000 / rate) + 1


def _expand_with_origins(spec: dict) -> list[tuple[dict, tuple]]:
    """The scenario's commands in run order, each with where it came from:
    ``(entry, (base_path, {command field: document path}))``."""
    out = []  # (at_ms, rank, n, entry, origin)
    n = 0

    def put(at_ms, rank, command, base, fields=None):
        nonlocal n
        n += 1
        out.append((at_ms, rank, n, {"at_ms": at_ms, "command": command}, (base, fields or {})))

    for i, t in enumerate(spec["topics"]):
        if t is None:
            continue
        put(0, 0, {"type": "topic.create", **t}, f"$.topics[{i}]")
    for i, g in enumerate(spec["groups"]):
        if g is None:
            continue
        path = f"$.groups[{i}]"
        configure = {k: v for k, v in g.items() if k not in GROUP_DOC_KEYS}
        put(0, 1, {"type": "group.configure", "group": g["name"], **configure}, path,
            {"group": f"{path}.name"})
        shared = g.get("consumer", {})
        for j, c in enumerate(g["consumers"]):
            command = {"type": "consumer.add", "group": g["name"]}
            fields = {"group": f"{path}.name"}
            if "topics" in g:
                command["topics"] = g["topics"]
                fields["topics"] = f"{path}.topics"
            for k, v in shared.items():
                command[k] = v
                fields[k] = path_key(f"{path}.consumer", k)
            command.update(c)
            for k in c:
                fields.pop(k, None)
            put(0, 1, copy.deepcopy(command), f"{path}.consumers[{j}]", fields)
    for i, p in enumerate(spec["producers"]):
        if p is None:
            continue
        path = f"$.producers[{i}]"
        start = p.get("start_ms", 0)
        command = {"type": "producer.add", **{k: v for k, v in p.items()
                                              if k not in PRODUCER_DOC_KEYS}}
        put(start, 2, command, path)
        stop = _producer_stop_ms(p)
        if stop is not None:
            put(stop, 2, {"type": "producer.remove", "id": p.get("id")}, path,
                {"id": f"{path}.id"})
    for i, item in enumerate(spec["timeline"]):
        if item is not None:
            put(item["at_ms"], 3, copy.deepcopy(item["command"]), f"$.timeline[{i}].command")
    out.sort(key=lambda x: (x[0], x[1], x[2]))
    return [(entry, origin) for _, _, _, entry, origin in out]


def expand(spec: dict) -> list[dict]:
    """The scenario as the commands it stands for: ``[{"at_ms", "command"}]`` in run order."""
    return [entry for entry, _ in _expand_with_origins(spec)]


def field_path(command, field: str, base: str, fields: dict | None = None) -> str:
    """The JSON path of a CommandError's `field` inside a command that came from `base`.

    Fields are dotted (``config.retention.ms``, ``keys.kind``, ``topics[1]``) and keys may
    hold dots themselves, so the field is matched against the command's actual keys, longest
    first, rather than split on dots.
    """
    fields = fields or {}
    rest = field
    node = command
    path = None
    while rest:
        if rest.startswith("[") and isinstance(node, list):
            m = re.match(r"\[([0-9]+)\]", rest)
            if m is None:
                break
            i = int(m.group(1))
            path = f"{path or base}[{i}]"
            node = node[i] if i < len(node) else None
            rest = rest[m.end():].lstrip(".")
            continue
        key = None
        if isinstance(node, dict):
            for k in sorted((k for k in node if isinstance(k, str)), key=len, reverse=True):
                if rest == k or rest.startswith(k + ".") or rest.startswith(k + "["):
                    key = k
                    break
        if key is None:
            head = re.match(r"[^.\[]+", rest)
            key = head.group(0) if head else rest
        if path is None and key in fields:
            path = fields[key]
        else:
            path = path_key(path or base, key)
        node = node.get(key) if isinstance(node, dict) else None
        rest = rest[len(key):].lstrip(".")
    return path or base


def _check_commands(e: _Errors, spec: dict, doc: dict) -> None:
    brokers = spec["brokers"] or MAX_BROKERS  # a bad count is reported; check the rest anyway
    try:
        scratch = Cluster(seed=spec["seed"], brokers=brokers, config=spec["cluster_config"])
    except CommandError as err:
        e.add(field_path(spec["cluster_config"], err.field.removeprefix("config."),
                         "$.cluster_config") if err.field.startswith("config.")
              else f"$.{err.field}", err.message)
        scratch = Cluster(seed=spec["seed"], brokers=brokers)
    topics: dict[str, int] = {}
    groups: set[str] = set()
    consumers: set[tuple[str, str]] = set()
    producers: set[str] = set()

    def note(command):
        kind = command.get("type")
        if kind == "topic.create":
            topics[command["name"]] = len(scratch.topics[command["name"]].partitions)
        elif kind == "topic.add_partitions":
            topics[command["name"]] = len(scratch.topics[command["name"]].partitions)
        elif kind in ("group.configure", "consumer.add"):
            groups.add(command["group"])
            group = scratch.groups.get(command["group"])
            # Ids the model made up (g-1, g-2, ...) count too: a step may watch them.
            consumers.update((command["group"], mid) for mid in (group.members if group else ()))
        elif kind == "producer.add" and isinstance(command.get("id"), str):
            producers.add(command["id"])

    def attempt(command, base, fields):
        if not isinstance(command.get("type"), str):
            # Checked here, not left to the facade: a list or object as the type is not even
            # a key to look a handler up by.
            e.add(f"{base}.type", "is required: a string naming the command, such as "
                  "\"topic.create\"" if command.get("type") is None else
                  f"must be a string naming the command, not {kind_of(command.get('type'))}")
            return
        if _replicas_after(scratch, command) > MAX_REPLICAS:
            # A limit of the document, checked before the model builds it: a scenario is
            # something a server validates on upload, and 100 topics of 1,000 partitions on
            # 16 brokers would cost seconds to check and far more to run.
            e.add(f"{base}.partitions", f"the scenario's topics would hold more than "
                  f"{MAX_REPLICAS:,} partition replicas in all")
            return
        try:
            scratch.apply(command)
        except CommandError as err:
            e.add(field_path(command, err.field, base, fields), err.message)
            return
        note(command)

    for entry, (base, fields) in _expand_with_origins(spec):
        attempt(entry["command"], base, fields)
    for i, step in enumerate(spec["steps"]):
        if step is None:
            continue
        for j, command in enumerate(step["commands"]):
            if isinstance(command, dict):
                attempt(copy.deepcopy(command), f"$.steps[{i}].commands[{j}]", {})
        tried = step["try"]
        if tried is not None and tried["topic"] not in topics:
            e.add(f"$.steps[{i}].try.topic", f"no topic {tried['topic']!r} in this scenario")
        elif tried is not None and tried.get("partition", 0) >= topics[tried["topic"]]:
            e.add(f"$.steps[{i}].try.partition", f"topic {tried['topic']!r} has "
                  f"{topics[tried['topic']]} partition(s)")
        when = step["when"]
        if when is not None:
            if "topic" in when and when["topic"] not in topics:
                e.add(f"$.steps[{i}].when.topic", f"no topic {when['topic']!r} in this scenario")
            if "group" in when and when["group"] not in groups:
                e.add(f"$.steps[{i}].when.group", f"no group {when['group']!r} in this scenario")
            if "broker" in when and spec["brokers"] and not 1 <= when["broker"] <= spec["brokers"]:
                e.add(f"$.steps[{i}].when.broker", f"the cluster has brokers 1 to "
                      f"{spec['brokers']}")
        watch = step["watch"]
        if watch is None:
            continue
        path = f"$.steps[{i}].watch"
        if "topic" in watch and watch["topic"] not in topics:
            e.add(f"{path}.topic", f"no topic {watch['topic']!r} in this scenario")
        elif "topic" in watch and watch.get("partition", 0) >= topics[watch["topic"]]:
            e.add(f"{path}.partition", f"topic {watch['topic']!r} has "
                  f"{topics[watch['topic']]} partition(s)")
        if "group" in watch and watch["group"] not in groups:
            e.add(f"{path}.group", f"no group {watch['group']!r} in this scenario")
        if "broker" in watch and spec["brokers"] and watch["broker"] > spec["brokers"]:
            e.add(f"{path}.broker", f"the cluster has brokers 1 to {spec['brokers']}")
        if "consumer" in watch and watch["group"] in groups \
                and (watch["group"], watch["consumer"]) not in consumers:
            e.add(f"{path}.consumer", f"group {watch['group']!r} has no consumer "
                  f"{watch['consumer']!r} in this scenario")
        if "producer" in watch and watch["producer"] not in producers:
            e.add(f"{path}.producer", f"no producer {watch['producer']!r} in this scenario")
        if "record" in watch:
            topic, partition, _ = _RECORD.fullmatch(watch["record"]).groups()
            if topic not in topics:
                e.add(f"{path}.record", f"no topic {topic!r} in this scenario")
            elif int(partition) >= topics[topic]:
                e.add(f"{path}.record", f"topic {topic!r} has {topics[topic]} partition(s)")


def _whole_or(value, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _replicas_after(cluster, command: dict) -> int:
    """How many partition replicas the cluster would hold after `command` (roughly: what the
    command asks for, before the model checks it)."""
    total = sum(len(t.partitions) * t.replication_factor for t in cluster.topics.values())
    kind = command.get("type")
    if kind == "topic.create":
        total += _whole_or(command.get("partitions"), 1) * _whole_or(
            command.get("replication_factor"), 1)
    elif kind == "topic.add_partitions":
        topic = cluster.topics.get(command.get("name")) if isinstance(
            command.get("name"), str) else None
        if topic is not None:
            grow = _whole_or(command.get("partitions"), 0) - len(topic.partitions)
            total += max(0, grow) * topic.replication_factor
    return total


# -- running ----------------------------------------------------------------------------------


def build_cluster(spec, seed=None) -> Cluster:
    """A cluster set up by a scenario document, its timeline on the clock. `seed` overrides
    the document's. Raises ScenarioError listing every problem."""
    spec = validate_scenario(spec)
    if seed is None:
        seed = spec["seed"]
    cluster = Cluster(seed=seed, brokers=spec["brokers"], config=spec["cluster_config"],
                      scenario=spec)
    for entry in expand(spec):
        cluster.clock.at(entry["at_ms"], cluster.run_timeline_command, entry["command"])
    # What is due at 0 (the topics, groups and producers) happens now, so the first command a
    # user sends finds them; its events wait with the construction events for the first
    # apply() or advance().
    cluster.clock.run_until(0)
    return cluster


__all__ = ["ScenarioError", "build_cluster", "check_scenario_name", "check_size", "expand",
           "field_path", "parse_duration", "parse_text", "validate_scenario"]
