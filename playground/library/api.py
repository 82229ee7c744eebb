"""What the rest of the site may ask of the scenario library (the contract in issue 5).

- `lookup_scenario(slug)`: a stored scenario as ``{"slug", "title", "description", "teaches",
  "spec", "seed", "builtin"}`` (spec: a broker_core scenario document), or None.
- `gallery()`: the scenarios the home page lists, built-ins first.
- `validate_document(obj)`: an import file (a parsed JSON value) checked completely, under this
  server's room limits; returns it normalized or raises `DocumentError` whose ``errors`` are
  ``[(json_path, message)]``.
- `slug_taken(slug)`: whether /s/<slug> already means something (a scenario or a recording:
  one namespace).

The namespace and the document (its format, its check) are playground/links', below this app
and the rooms app; these names are the library's contract to the rest of the site.
"""

from broker_core.scenarios import BUILTIN_NAMES
from playground.links import document
from playground.links.document import MAX_REPLAY_EVENTS, REPLAY_SLICE_EVENTS, DocumentError
from playground.links.namespace import lookup_scenario, slug_taken
from playground.rooms.quotas import Quotas

from .models import Scenario


def gallery() -> list[dict]:
    """``[{"slug", "name", "title", "description", "teaches", "builtin", "url"}]``: the
    built-ins in the lecture's order (broker_core's BUILTIN_NAMES), then the others, newest
    last. ``name`` repeats the slug for templates written before the library."""
    order = {name: i for i, name in enumerate(BUILTIN_NAMES)}
    rows = Scenario.objects.only("slug", "title", "description", "teaches", "builtin",
                                 "created", "id")
    rows = sorted(rows, key=lambda s: (not s.builtin, order.get(s.slug, len(order)),
                                       s.created, s.id))
    return [{"slug": s.slug, "name": s.slug, "title": s.title, "description": s.description,
             "teaches": s.teaches, "builtin": s.builtin, "url": f"/s/{s.slug}"} for s in rows]


def validate_document(obj, *, check_slug: bool = True) -> dict:
    """links.document.validate_document under this server's room limits (rooms/quotas.py).
    MAX_REPLAY_EVENTS is read from this module at the call, so lowering it here (a test, an
    operator's shell) bounds the check."""
    return document.validate_document(obj, quotas=Quotas.from_settings(), check_slug=check_slug,
                                      max_replay_events=MAX_REPLAY_EVENTS)


__all__ = ["MAX_REPLAY_EVENTS", "REPLAY_SLICE_EVENTS", "DocumentError", "gallery",
           "lookup_scenario", "slug_taken", "validate_document"]
