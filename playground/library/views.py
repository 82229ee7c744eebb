"""Import (``/import``) of scenario and recording documents (their export, ``/s/<slug>/export``,
is playground/views.py's, beside ``/s/<slug>``; the document itself is playground/links').

Import never answers with a server error for anything a visitor can send: text that is not
JSON (or YAML), a document of the wrong shape, a scenario broker_core refuses, a recording whose
log the model refuses part way: each is a list of (JSON path, message) on the form, status 400.

What it takes is what ``python -m broker_core run`` takes, and more: a bare scenario (JSON or
YAML, such as the README's smallest one), a scenario export, a recording export. A slug that
is taken already (re-importing your own export) gets a fresh one, ``<slug>-2`` and so on, and
the result page says so; nothing is refused for its slug alone.

Who may import what: a recording is reachable only through its own link, so anyone may import
one (as anyone may share a room). A scenario joins the library everyone sees on the home page,
so adding one takes a staff login, like the admin.
"""

from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from broker_core.scenario import MAX_TEXT_CHARS, ScenarioError
from playground.clientaddr import request_client
from playground.links.document import (
    MAX_RECORDING_CHARS,
    NOT_AN_OBJECT,
    SCENARIO_FORMAT,
    parse_document,
    unwrapped,
    wrap_bare,
)
from playground.links.namespace import free_slug
from playground.rooms.registry import get_rooms

from .api import DocumentError, slug_taken, validate_document
from .store import save_spec

MAX_UPLOAD_BYTES = 4 * MAX_RECORDING_CHARS  # UTF-8 needs at most 4 bytes a character
# A slug taken between choosing a fresh one and saving it: choose again, this many times.
SAVE_ATTEMPTS = 3


def _read(request: HttpRequest) -> tuple[str | None, str | None, list]:
    """(text, filename, errors) from the upload or the textarea."""
    upload = request.FILES.get("file")
    pasted = request.POST.get("text", "")
    if upload is not None:
        if upload.size > MAX_UPLOAD_BYTES:
            return None, None, [("$", f"the file is {upload.size:,} bytes; at most "
                                 f"{MAX_UPLOAD_BYTES:,}")]
        try:
            return upload.read().decode("utf-8-sig"), upload.name, []
        except UnicodeDecodeError as e:
            return None, None, [("$", f"the file is not UTF-8 text (byte {e.start})")]
    if pasted.strip():
        return pasted, None, []
    return None, None, [("$", "choose a file or paste a document")]


def _save(request: HttpRequest, doc: dict) -> tuple[str | None, list]:
    """Store the checked document; (slug, []) or (None, errors). A taken slug is replaced by
    the first free ``<slug>-N`` (import_document tells the user)."""
    if doc["format"] == SCENARIO_FORMAT:
        if not (request.user.is_authenticated and request.user.is_staff):
            return None, [("$.format", "adding a scenario to the library takes a staff login "
                           "(/admin/); anyone may import a recording")]
        for _ in range(SAVE_ATTEMPTS):
            slug = free_slug(doc["slug"])
            try:
                save_spec(doc["scenario"], slug=slug)
            except IntegrityError:  # taken between choosing it and the save: choose again
                continue
            return slug, []
        return None, [("$.slug", f"no free slug for /s/{doc['slug']} after {SAVE_ATTEMPTS} "
                       "tries (others are importing under it right now); try again")]
    # Looked up at the call: the rooms app's module as it is then (a test stands in for it).
    from playground.rooms.recordings import save_recording

    if doc["slug"] is not None and slug_taken(doc["slug"]):
        doc = {**doc, "slug": free_slug(doc["slug"])}
    try:
        return save_recording(doc, checked=True), []  # import_document validated it
    except DocumentError as e:
        return None, e.errors


def import_document(request: HttpRequest) -> HttpResponse:
    errors: list = []
    pasted = ""
    if request.method == "POST":
        pasted = request.POST.get("text", "")[:MAX_TEXT_CHARS]
        if not request.user.is_staff:
            # Checking a recording replays its log (up to 2,000,000 events) and a success
            # stores it: anonymous imports share the per-address allowance rooms are made from.
            # The real client behind a trusted proxy (playground/clientaddr.py).
            wait_s = get_rooms().allow_creation(request_client(request))
            if wait_s:
                response = render(request, "library/import.html", {
                    "errors": [("$", f"too many imports and new rooms from your address; try "
                                f"again in {max(1, round(wait_s))} s")], "text": pasted},
                    status=429)
                response["Retry-After"] = str(max(1, round(wait_s)))
                return response
        text, filename, errors = _read(request)
        doc = None
        bare = False
        if not errors:
            try:
                document, bare = wrap_bare(parse_document(text, filename))
                # The slug is not checked here: a taken one is replaced when saving.
                doc = validate_document(document, check_slug=False)
            except ScenarioError as e:  # text that is not a JSON (or YAML) object
                errors = [(err["path"], NOT_AN_OBJECT if err["path"] == "$" and
                           err["message"].startswith("a scenario is an object") else
                           err["message"]) for err in e.errors]
            except DocumentError as e:
                errors = unwrapped(e.errors, bare)
        if doc is not None:
            slug, errors = _save(request, doc)
            errors = unwrapped(errors, bare)
            if not errors and doc["slug"] is not None and slug != doc["slug"]:
                # Imported, under another slug than the document's: the page says so rather
                # than redirecting to a room whose address the user did not expect.
                kind = "scenario" if doc["format"] == SCENARIO_FORMAT else "recording"
                return render(request, "library/import.html", {"errors": [], "imported": {
                    "slug": slug, "url": f"/s/{slug}", "asked": doc["slug"], "kind": kind}})
            if not errors:
                return HttpResponseRedirect(f"/s/{slug}")
    elif request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    return render(request, "library/import.html", {"errors": errors, "text": pasted},
                  status=400 if errors else 200)
