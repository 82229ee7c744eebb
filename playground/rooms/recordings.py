"""Shared recordings: a room's scenario, seed and command log, frozen under a short slug.

`/s/<slug>` opens one as a replay room; `recording_document(slug)` is its export, and
`save_recording(doc)` its import (the library's import view calls it). Slugs share one
namespace with the library's scenarios (`/s/<slug>` serves both, scenarios first), so a new
slug is checked against the library's `slug_taken`.
"""

import secrets

from django.conf import settings
from django.db import IntegrityError, transaction

FORMAT = "playground.recording"
VERSION = 1
SLUG_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no l/1/o/0 to misread from a slide
SLUG_CHARS = 8


def slug_taken(slug: str) -> bool:
    from playground.library.api import slug_taken as taken

    return taken(slug)


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
                from playground.library.api import DocumentError

                raise DocumentError(errors=[("$.slug", f"{wanted!r} is already taken")]) \
                    from None
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


def save_recording(doc: dict, *, checked: bool = False) -> str:
    """Store an import document of a recording; return its slug. Unless `checked` (the
    caller ran it through the library's `validate_document` already: that replays the whole
    log, not a cost to pay twice), it is validated first. Raises the library's DocumentError
    listing every problem with its JSON path; nothing is stored then.
    """
    from playground.library.api import DocumentError, validate_document

    if not checked:
        doc = validate_document(doc)
    slug = doc.get("slug")
    if slug is not None and slug_taken(slug):
        raise DocumentError(errors=[("$.slug", f"{slug!r} is already taken")])
    return save_fields({"slug": slug, "title": doc.get("title") or "",
                        "spec": doc["scenario"], "seed": doc["seed"], "log": doc["log"],
                        "end_ms": doc["end_ms"],
                        # Imports replay under this server's record budget.
                        "records_max": settings.PLAYGROUND_ROOM_RECORDS_MAX,
                        "scenario_slug": (doc["scenario"].get("name") or "")[:64]})
