"""The /s/<slug> namespace: one slug names one thing, a library scenario or a shared recording.

A slug follows broker_core's scenario-name rule (a scenario's name is its link), so a
scenario document's own name can be its slug. Scenarios come first: `/s/<slug>` opens the
scenario when both exist (the library refuses a slug a recording holds, and the rooms a slug
anything holds, so only a race could make both).

The rows are read through Django's app registry by label, so this module imports neither app
(see the package's docstring). Every call here reads the database: call it from sync code (a
view hands it to a thread with sync_to_async).
"""

import secrets

from django.apps import apps

from broker_core.scenario import check_scenario_name

# A shared recording's random slug: no l/1/o/0 to misread from a slide.
RANDOM_SLUG_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
RANDOM_SLUG_CHARS = 8
# `free_slug` cuts its base to this, leaving room for "-<n>" within the 64 characters a slug
# may have.
FREE_SLUG_BASE_CHARS = 58
# A shared recording as it is stored (playground.rooms.models.Recording) and replayed.
RECORDING_FIELDS = ("slug", "title", "spec", "seed", "log", "end_ms", "records_max",
                    "source_room", "scenario_slug")
# The room's page metadata a scenario carries (its row first, else its spec).
SCENARIO_META_KEYS = ("title", "description", "teaches")


def _scenarios():
    return apps.get_model("library", "Scenario")


def _recordings():
    return apps.get_model("rooms", "Recording")


def check_slug(slug, field: str = "slug") -> str:
    """`slug` if it may name something under /s/; else broker_core's CommandError(field, why)."""
    return check_scenario_name(slug, field)


def slug_taken(slug: str) -> bool:
    """Whether /s/<slug> already means something (a scenario or a recording)."""
    return (_scenarios().objects.filter(slug=slug).exists()
            or _recordings().objects.filter(slug=slug).exists())


def free_slug(base: str) -> str:
    """`base`, or `base-2`, `base-3` ... : the first slug nothing under /s/ uses."""
    base = base[:FREE_SLUG_BASE_CHARS].rstrip("-")
    slug, n = base, 1
    while slug_taken(slug):
        n += 1
        slug = f"{base}-{n}"
    return slug


def random_slug(taken=None) -> str:
    """A fresh random slug for a shared recording that `taken` (default: `slug_taken`) says is
    free."""
    taken = taken or slug_taken
    while True:
        slug = "".join(secrets.choice(RANDOM_SLUG_ALPHABET) for _ in range(RANDOM_SLUG_CHARS))
        if not taken(slug):
            return slug


def lookup_scenario(slug: str) -> dict | None:
    """The library's scenario `slug` as ``{"slug", "title", "description", "teaches", "spec",
    "seed", "builtin"}`` (spec: a broker_core scenario document, not yet validated), or None."""
    if not isinstance(slug, str):
        return None
    scenario = _scenarios().objects.filter(slug=slug).first()
    if scenario is None:
        return None
    return {"slug": scenario.slug, "title": scenario.title,
            "description": scenario.description, "teaches": scenario.teaches,
            "spec": scenario.to_spec(), "seed": scenario.seed, "builtin": scenario.builtin}


def lookup_recording(slug: str) -> dict | None:
    """The shared recording `slug` (its RECORDING_FIELDS), or None."""
    row = _recordings().objects.filter(slug=slug).first()
    if row is None:
        return None
    return {field: getattr(row, field) for field in RECORDING_FIELDS}


def find_scenario(slug: str) -> dict | None:
    """``{"spec", "seed", "meta"}`` a room is made from for the library's scenario `slug`, or
    None; meta is the room page's name (the slug), title, description and teaches."""
    found = lookup_scenario(slug)
    if found is None:
        return None
    spec = found["spec"]
    meta = {"name": found["slug"]}
    for key in SCENARIO_META_KEYS:
        meta[key] = found.get(key) or spec.get(key) or ""
    return {"spec": spec, "seed": found.get("seed"), "meta": meta}


def resolve(slug: str) -> tuple[str, dict] | None:
    """What `/s/<slug>` opens: ``("scenario", find_scenario(slug))`` first, else
    ``("recording", lookup_recording(slug))``; None if the slug names nothing."""
    scenario = find_scenario(slug)
    if scenario is not None:
        return "scenario", scenario
    recording = lookup_recording(slug)
    return ("recording", recording) if recording is not None else None
