"""Writing a scenario's rows from a spec, and reading them back as plain values.

`models` is anything with ``get_model(app_label, name)``: django.apps.apps at run time, the
historical registry inside a data migration, so both write rows the same way.
"""

from django.apps import apps as global_apps
from django.db import transaction

from playground.links.namespace import free_slug

from . import spec as mapping

CHILDREN = (("topics", "Topic"), ("groups", "Group"), ("producers", "Producer"),
            ("timeline", "TimelineEntry"))


def _model(models, name: str):
    return (models or global_apps).get_model("library", name)


def read_rows(scenario, models=None) -> dict:
    """The row values of a stored scenario, children in order (what `spec_from_rows` takes)."""
    out = {"scenario": {c: getattr(scenario, c) for c in mapping.SCENARIO_COLUMNS}}
    columns = {"topics": mapping.TOPIC_COLUMNS, "groups": mapping.GROUP_COLUMNS,
               "producers": mapping.PRODUCER_COLUMNS, "timeline": mapping.TIMELINE_COLUMNS}
    for part, name in CHILDREN:
        rows = _model(models, name).objects.filter(scenario=scenario).order_by(
            "position", "id")
        # Explicit order (not Meta.ordering): historical models in a migration have none.
        rows = sorted(rows, key=lambda r: (r.position is None, r.position or 0, r.id))
        out[part] = [{c: getattr(r, c) for c in columns[part]} for r in rows]
    return out


def spec_of(scenario, models=None) -> dict:
    rows = read_rows(scenario, models)
    return mapping.spec_from_rows(rows["scenario"], rows["topics"], rows["groups"],
                                  rows["producers"], rows["timeline"])


def write_rows(rows: dict, *, builtin: bool = False, forked_from=None, instance=None,
               models=None):
    """Create (or, given `instance`, overwrite) a scenario and all its children from row
    values. Returns the Scenario."""
    Scenario = _model(models, "Scenario")
    with transaction.atomic():
        if instance is None:
            instance = Scenario(builtin=builtin, forked_from=forked_from)
        for column, value in rows["scenario"].items():
            setattr(instance, column, value)
        instance.builtin = builtin
        instance.save()
        for part, name in CHILDREN:
            model = _model(models, name)
            model.objects.filter(scenario=instance).delete()
            model.objects.bulk_create(
                model(scenario=instance, position=i, **values)
                for i, values in enumerate(rows[part]))
    return instance


def save_spec(spec: dict, *, slug: str, builtin: bool = False, forked_from=None,
              instance=None, models=None):
    """Store a validated spec under `slug` (the stored scenario's name is its slug)."""
    rows = mapping.rows_from_spec({**spec, "name": slug})
    return write_rows(rows, builtin=builtin, forked_from=forked_from, instance=instance,
                      models=models)


def fork_scenario(scenario):
    """An editable copy of `scenario` (rows as stored, so even a stale one copies), slug
    "<slug>-copy" or the next free one, forked_from set."""
    rows = read_rows(scenario)
    slug = free_slug(f"{scenario.slug}-copy")
    rows["scenario"] = {**rows["scenario"], "slug": slug}
    return write_rows(rows, builtin=False, forked_from=scenario)
