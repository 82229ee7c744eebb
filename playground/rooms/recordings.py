"""Shared recordings: a room's scenario, seed and command log, frozen under a short slug.

`/s/<slug>` opens one as a replay room; `recording_document(slug)` is its export, and
`save_recording(doc)` its import (the library's import view calls it). Slugs share one
namespace with the library's scenarios (`/s/<slug>` serves both, scenarios first), so a new
slug is checked against the library's `slug_taken` when the library is installed.
"""

import secrets

from django.conf import settings
from django.db import IntegrityError, transaction

FORMAT = "playground.recording"
VERSION = 1
SLUG_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no l/1/o/0 to misread from a slide
SLUG_CHARS = 8
MAX_LOG_ENTRIES = 100_000


class RecordingError(ValueError):
    """An import document that is not a valid recording: every problem with its JSON path."""

    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__("; ".join(f"{path}: {message}" for path, message in errors))
        self.errors = errors


def _library():
    try:
        from playground.library import api
    except ImportError:
        return None
    return api


def slug_taken(slug: str) -> bool:
    from .models import Recording

    api = _library()
    if api is not None and hasattr(api, "slug_taken"):
        return api.slug_taken(slug)
    return Recording.objects.filter(slug=slug).exists()


def new_slug(taken=None) -> str:
    taken = taken or slug_taken
    while True:
        slug = "".join(secrets.choice(SLUG_ALPHABET) for _ in range(SLUG_CHARS))
        if not taken(slug):
            return slug


def save_fields(fields: dict) -> str:
    """Store a recording (fields of the model; "slug" optional) and return its slug."""
    from .models import Recording

    wanted = fields.get("slug")
    values = {k: fields.get(k) for k in ("title", "spec", "seed", "log", "end_ms",
                                         "records_max", "source_room", "scenario_slug")}
    values = {k: v for k, v in values.items() if v is not None}
    for _ in range(10):
        slug = wanted or new_slug()
        try:
            with transaction.atomic():
                Recording.objects.create(slug=slug, **values)
            return slug
        except IntegrityError:
            if wanted:
                raise RecordingError([("$.slug", f"{wanted!r} is already taken")]) from None
    raise RuntimeError("no free recording slug after 10 tries")


def load_recording_sync(slug: str) -> dict | None:
    from .models import Recording

    row = Recording.objects.filter(slug=slug).first()
    if row is None:
        return None
    return {"slug": row.slug, "title": row.title, "spec": row.spec, "seed": row.seed,
            "log": row.log, "end_ms": row.end_ms, "records_max": row.records_max,
            "source_room": row.source_room, "scenario_slug": row.scenario_slug}


def recording_document(slug: str) -> dict | None:
    """The export document of recording `slug` (None if there is none)."""
    recording = load_recording_sync(slug)
    if recording is None:
        return None
    doc = {"format": FORMAT, "version": VERSION, "slug": recording["slug"]}
    if recording["title"]:
        doc["title"] = recording["title"]
    doc.update({"scenario": recording["spec"], "seed": recording["seed"],
                "log": recording["log"], "end_ms": recording["end_ms"]})
    return doc


def save_recording(doc: dict) -> str:
    """Validate an import document of a recording and store it; return its slug.

    Raises the library's DocumentError (or, without the library, RecordingError) listing
    every problem with its JSON path; nothing is stored then.
    """
    api = _library()
    if api is not None and hasattr(api, "validate_document"):
        doc = api.validate_document(doc)
    else:
        check_document(doc)
    slug = doc.get("slug")
    if slug is not None and slug_taken(slug):
        error = [("$.slug", f"{slug!r} is already taken")]
        if api is not None and hasattr(api, "DocumentError"):
            raise api.DocumentError(errors=error)
        raise RecordingError(error)
    return save_fields({"slug": slug, "title": doc.get("title") or "",
                        "spec": doc["scenario"], "seed": doc["seed"], "log": doc["log"],
                        "end_ms": doc["end_ms"],
                        # Imports replay under this server's record budget.
                        "records_max": settings.PLAYGROUND_ROOM_RECORDS_MAX,
                        "scenario_slug": (doc["scenario"].get("name") or "")[:64]})


def check_document(doc) -> None:
    """A recording document's shape, and its log judged by replaying it (the fallback for
    when the library's validate_document is not there)."""
    from broker_core import Cluster, CommandError

    errors: list[tuple[str, str]] = []
    if not isinstance(doc, dict):
        raise RecordingError([("$", "must be an object")])
    allowed = {"format", "version", "slug", "title", "scenario", "seed", "log", "end_ms"}
    errors += [(f"$.{k}", "is not a field of a recording") for k in doc if k not in allowed]
    if doc.get("format") != FORMAT:
        errors.append(("$.format", f"must be {FORMAT!r}"))
    if doc.get("version") != VERSION:
        errors.append(("$.version", f"must be {VERSION}"))
    slug = doc.get("slug")
    if slug is not None and not (isinstance(slug, str) and 1 <= len(slug) <= 64
                                 and all(c.isalnum() and c.isascii() or c in "-_"
                                         for c in slug)):
        errors.append(("$.slug", "must be 1..64 letters, digits, - or _"))
    title = doc.get("title")
    if title is not None and not (isinstance(title, str) and len(title) <= 200):
        errors.append(("$.title", "must be a string of at most 200 characters"))
    seed = doc.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        errors.append(("$.seed", "must be a whole number"))
    end_ms = doc.get("end_ms")
    if isinstance(end_ms, bool) or not isinstance(end_ms, int) or end_ms < 0:
        errors.append(("$.end_ms", "must be a whole number >= 0"))
    log = doc.get("log")
    if not isinstance(log, list) or len(log) > MAX_LOG_ENTRIES:
        errors.append(("$.log", f"must be a list of at most {MAX_LOG_ENTRIES:,} entries"))
    if not isinstance(doc.get("scenario"), dict):
        errors.append(("$.scenario", "must be a scenario object"))
    if errors:
        raise RecordingError(errors)
    try:
        cluster = Cluster.from_scenario(doc["scenario"], seed=seed)
    except CommandError as e:
        raise RecordingError([(f"$.scenario.{e.field}", e.message)]) from None
    except Exception as e:  # ScenarioError and friends carry their own wording
        raise RecordingError([("$.scenario", str(e))]) from None
    if settings.PLAYGROUND_ROOM_RECORDS_MAX:
        cluster.config["retained.records.max"] = settings.PLAYGROUND_ROOM_RECORDS_MAX
    cluster.advance(0)
    for i, entry in enumerate(log):
        path = f"$.log[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"at_ms", "command"}:
            raise RecordingError([(path, "must be an object with at_ms and command")])
        at_ms = entry["at_ms"]
        if isinstance(at_ms, bool) or not isinstance(at_ms, int) or at_ms < cluster.now_ms:
            raise RecordingError([(f"{path}.at_ms", f"must be a whole number >= "
                                   f"{cluster.now_ms} (entries in time order)")])
        if not isinstance(entry["command"], dict):
            raise RecordingError([(f"{path}.command", "must be an object")])
        cluster.advance_to(at_ms)
        try:
            cluster.apply(entry["command"])
        except CommandError as e:
            raise RecordingError([(f"{path}.command.{e.field}", e.message)]) from None
    if end_ms < cluster.now_ms:
        raise RecordingError([("$.end_ms", f"must be at least the last entry's at_ms "
                               f"({cluster.now_ms})")])
