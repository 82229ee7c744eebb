"""Shared recordings, the rooms' side of /s/: a room's scenario, seed and command log, frozen
under a short slug.

`/s/<slug>` opens one as a replay room; `recording_document(slug)` is its export, and
`save_recording(doc)` its import (the library's import view calls it). The slugs (one
namespace with the library's scenarios) and the document are playground/links'.
"""

from django.conf import settings
from django.db import IntegrityError, transaction

from playground.links import document, namespace
from playground.links.document import DocumentError

from .quotas import Quotas

# A random slug taken between choosing it and the insert: choose again, this many times.
SAVE_ATTEMPTS = 10


def save_fields(fields: dict) -> str:
    """Store a recording (namespace.RECORDING_FIELDS; "slug" optional: a random one) and
    return its slug."""
    # At the call, as in store.py: importing the rooms' runtime does not need Django's models
    # loaded yet.
    from .models import Recording

    wanted = fields.get("slug")
    values = {k: fields.get(k) for k in namespace.RECORDING_FIELDS if k != "slug"}
    values = {k: v for k, v in values.items() if v is not None}
    for _ in range(SAVE_ATTEMPTS):
        slug = wanted or namespace.random_slug()
        try:
            with transaction.atomic():
                Recording.objects.create(slug=slug, **values)
            return slug
        except IntegrityError:
            if wanted:
                raise DocumentError(errors=[("$.slug", f"{wanted!r} is already taken")]) \
                    from None
    raise RuntimeError(f"no free recording slug after {SAVE_ATTEMPTS} tries")


def recording_document(slug: str) -> dict | None:
    """The export document of recording `slug` (None if there is none)."""
    recording = namespace.lookup_recording(slug)
    return None if recording is None else document.recording_export(recording)


def save_recording(doc: dict, *, checked: bool = False) -> str:
    """Store an import document of a recording; return its slug. Unless `checked` (the
    caller ran it through `validate_document` already: that replays the whole log, not a cost
    to pay twice), it is validated first, under this server's room limits. Raises
    DocumentError listing every problem with its JSON path; nothing is stored then.
    """
    if not checked:
        doc = document.validate_document(doc, quotas=Quotas.from_settings())
    slug = doc.get("slug")
    if slug is not None and namespace.slug_taken(slug):
        raise DocumentError(errors=[("$.slug", f"{slug!r} is already taken")])
    # Imports replay under this server's record budget.
    return save_fields(document.recording_fields(doc, settings.PLAYGROUND_ROOM_RECORDS_MAX))
