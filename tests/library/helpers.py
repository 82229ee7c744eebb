"""Building admin POST data for a scenario and its inlines, the way the admin's page sends it."""

import json

PREFIXES = ("topics", "groups", "producers", "timeline")

SCENARIO_DEFAULTS = {"slug": "my-scenario", "title": "Mine", "description": "", "teaches": "",
                     "seed": "7", "brokers": "3", "duration_ms": "", "cluster_config": "{}",
                     "steps": "[]", "figures": "[]"}

JSON_COLUMNS = {"topics", "consumer_list", "consumer", "rate_per_s", "keys", "command"}


def _value(key, value):
    if value is None:
        return ""
    if key in JSON_COLUMNS:
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def admin_post(scenario=None, initial=None, **parts) -> dict:
    """POST data for the scenario change form: `scenario` overrides SCENARIO_DEFAULTS, each
    part (topics=[{...}], ...) is a list of row dicts (column -> value; "id" for an existing
    row); `initial` says how many of a part's rows already exist."""
    data = {**SCENARIO_DEFAULTS, **(scenario or {})}
    initial = initial or {}
    for prefix in PREFIXES:
        rows = parts.get(prefix, [])
        data[f"{prefix}-TOTAL_FORMS"] = str(len(rows))
        data[f"{prefix}-INITIAL_FORMS"] = str(initial.get(prefix, 0))
        data[f"{prefix}-MIN_NUM_FORMS"] = "0"
        data[f"{prefix}-MAX_NUM_FORMS"] = "1000"
        for i, row in enumerate(rows):
            for key, value in row.items():
                data[f"{prefix}-{i}-{key}"] = _value(key, value)
    return data


def inline_forms(response, prefix):
    for formset in response.context["inline_admin_formsets"]:
        if formset.formset.prefix == prefix:
            return formset.formset.forms
    raise AssertionError(f"no inline {prefix}")
