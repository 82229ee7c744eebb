"""The built-in scenarios, from broker_core/scenarios/*.json into the library, idempotently.

The files are the source: each built-in row is compared with its file (as the specs both
stand for, after broker_core normalizes them) and rewritten only when they differ, so running
the loader twice changes nothing and an edited file updates its row. Built-ins are never
deleted here: a file that disappeared leaves its row (and its links) alone.

Used by the data migration 0002 (so every database, the test database included, has them) and
by `manage.py load_scenarios` (run by `make run` after migrate, so a changed file reaches an
existing database).
"""

from broker_core.scenario import validate_scenario
from broker_core.scenarios import BUILTIN_NAMES, load_builtin
from playground.jsontext import sorted_dumps

from . import spec as mapping
from .store import spec_of, write_rows


def _canonical(spec: dict) -> str:
    return sorted_dumps(validate_scenario(spec))


def load_builtins(models=None, names=BUILTIN_NAMES, load=load_builtin) -> dict:
    """Create or update the built-in scenarios. Returns ``{"created", "updated", "unchanged",
    "conflicts"}``, each a list of slugs. `models`: an app registry (a migration's `apps`)."""
    from django.apps import apps as global_apps

    Scenario = (models or global_apps).get_model("library", "Scenario")
    result = {"created": [], "updated": [], "unchanged": [], "conflicts": []}
    for name in names:
        spec = load(name)
        rows = mapping.rows_from_spec(spec)
        existing = Scenario.objects.filter(slug=name).first()
        if existing is None:
            write_rows(rows, builtin=True, models=models)
            result["created"].append(name)
            continue
        # Compare what the row and the file mean (both through the mapping and broker_core's
        # normalization), not their bytes: a file reformatted is not a change.
        stored = spec_of(existing, models)
        wanted = mapping.spec_from_rows(rows["scenario"], rows["topics"], rows["groups"],
                                        rows["producers"], rows["timeline"])
        if not existing.builtin:
            # Someone's own scenario took the slug before this built-in existed: their work is
            # not overwritten; the conflict is reported (load_scenarios prints it).
            result["conflicts"].append(name)
            continue
        if _canonical(stored) == _canonical(wanted):
            result["unchanged"].append(name)
            continue
        write_rows(rows, builtin=True, instance=existing, models=models)
        result["updated"].append(name)
    return result
