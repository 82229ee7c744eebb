"""Export (``/s/<slug>/export``) and import (``/import``) of scenario and recording documents.

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

import json

from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from broker_core.scenario import MAX_TEXT_CHARS, ScenarioError, load_json, parse_text
from playground.views import not_found

from .api import (
    RECORDING_FORMAT,
    SCENARIO_FORMAT,
    VERSION,
    DocumentError,
    slug_taken,
    validate_document,
)
from .models import Scenario
from .store import free_slug, save_spec

# A recording is as long as its room's command log grew (up to LOG_BYTES_MAX, 1.5 MB of
# commands, in playground/rooms/room.py), and its export is indented: a scenario document's
# limit (MAX_TEXT_CHARS) refused the export of rooms far below that.
MAX_RECORDING_CHARS = 4_000_000
MAX_UPLOAD_BYTES = 4 * MAX_RECORDING_CHARS  # UTF-8 needs at most 4 bytes a character
NOT_AN_OBJECT = ("a document is an object: a scenario ({\"brokers\": 3, \"timeline\": [...], "
                 "...}) or an export ({\"format\": \"playground.scenario\", \"version\": 1, "
                 "\"scenario\": {...}})")
# Keys only the export's wrapper has: an object with none of them is a bare scenario.
WRAPPER_KEYS = ("format", "version", "slug", "scenario", "log")
# A slug taken between choosing a fresh one and saving it: choose again, this many times.
SAVE_ATTEMPTS = 3


def scenario_document(scenario: Scenario) -> dict:
    return {"format": SCENARIO_FORMAT, "version": VERSION, "slug": scenario.slug,
            "scenario": scenario.to_spec()}


def _download(document: dict, slug: str) -> HttpResponse:
    body = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return HttpResponse(body, content_type="application/json; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{slug}.json"'})


def export(request: HttpRequest, slug: str) -> HttpResponse:
    scenario = Scenario.objects.filter(slug=slug).first()
    if scenario is not None:
        return _download(scenario_document(scenario), slug)
    from playground.rooms.recordings import recording_document

    document = recording_document(slug)
    if document is None:
        return not_found(request, f"There is no scenario or shared recording at /s/{slug}.")
    return _download(document, slug)


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


def wrap_bare(obj) -> tuple[object, bool]:
    """(document, bare): a bare scenario -- an object with none of the export's keys, what
    `python -m broker_core run` reads -- becomes a scenario document; anything else is
    returned as it is (validate_document judges it)."""
    if isinstance(obj, dict) and not any(key in obj for key in WRAPPER_KEYS):
        return {"format": SCENARIO_FORMAT, "version": VERSION, "scenario": obj}, True
    return obj, False


def _unwrapped(errors: list, bare: bool) -> list:
    """A bare scenario's errors at its own paths ($.brokers, as the CLI says), not under the
    wrapper it never had ($.scenario.brokers)."""
    if not bare:
        return errors
    return [("$" + path[len("$.scenario"):] if path.startswith("$.scenario") else
             "$" if path == "$.format" else path, message) for path, message in errors]


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
    from playground.rooms.recordings import save_recording

    if doc["slug"] is not None and slug_taken(doc["slug"]):
        doc = {**doc, "slug": free_slug(doc["slug"])}
    try:
        return save_recording(doc, checked=True), []  # import_document validated it
    except DocumentError as e:
        return None, e.errors


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


def import_document(request: HttpRequest) -> HttpResponse:
    errors: list = []
    pasted = ""
    if request.method == "POST":
        pasted = request.POST.get("text", "")[:MAX_TEXT_CHARS]
        if not request.user.is_staff:
            # Checking a recording replays its log (up to 2,000,000 events) and a success
            # stores it: anonymous imports share the per-address allowance rooms are made from.
            from playground.clientaddr import request_client
            from playground.rooms.registry import get_rooms

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
                errors = _unwrapped(e.errors, bare)
        if doc is not None:
            slug, errors = _save(request, doc)
            errors = _unwrapped(errors, bare)
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
