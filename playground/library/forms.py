"""Admin forms that let broker_core judge the scenario, and put its messages at the fields.

A field alone is checked by its column's validator (validators.py, which asks broker_core).
What only the whole scenario can say (a replication factor larger than the brokers, a producer
writing to a topic that is not there, a dead-letter topic a group also reads) is found by
`broker_core.scenario.validate_scenario` on the document the forms would save, and each of its
errors, a JSON path and a message, goes back to the form and field it came from
(spec.locate): ``$.topics[2].name`` is the name field of the third topic row in the order the
scenario will have.

How the main form sees its inlines: the admin builds the inline formsets before it validates
the main form (ModelAdmin._changeform_view), passing each one `registry`, a dict kept on the
scenario instance (ScenarioAdmin.get_formset_kwargs). The main form's clean() then validates
the formsets, builds the document and checks it. An error added to an inline form makes its
formset invalid, so the admin saves nothing.
"""

import math

from django import forms
from django.core.exceptions import ValidationError

from broker_core.assignors import ASSIGNORS
from broker_core.delivery import RETRY_MODES
from broker_core.scenario import ScenarioError, validate_scenario
from playground.links.namespace import slug_taken

from . import spec as mapping
from .models import Group, Producer, Scenario, TimelineEntry, Topic

PART_COLUMNS = {"topics": mapping.TOPIC_COLUMNS, "groups": mapping.GROUP_COLUMNS,
                "producers": mapping.PRODUCER_COLUMNS, "timeline": mapping.TIMELINE_COLUMNS}
PART_OF_MODEL = {Topic: "topics", Group: "groups", Producer: "producers",
                 TimelineEntry: "timeline"}
REGISTRY_ATTR = "_library_formsets"


def _lone_surrogate(value) -> bool:
    """Whether a cleaned value (a JSON column's included) holds a string that is not Unicode."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


SURROGATE = ("is not valid Unicode text: it holds a lone surrogate such as \\ud800 (valid "
             "JSON, but not text the model can measure nor the database store)")


TOO_MANY_DIGITS = "has a number longer than any field takes (over 4,300 digits)"


class UnicodeJSONField(forms.JSONField):
    """A JSON column's form field that refuses at the field what Django's let through to a 500:
    lone surrogates ("\\ud800": they failed the model measuring a record, the database, and
    even re-showing the form, which echoes its value as UTF-8), and numbers longer than Python
    converts (json raises a plain ValueError there, which Django's field does not expect)."""

    def to_python(self, value):
        try:
            converted = super().to_python(value)
        except ValidationError:
            raise
        except ValueError:
            raise ValidationError(TOO_MANY_DIGITS, code="invalid") from None
        if _lone_surrogate(converted):
            raise ValidationError(SURROGATE, code="invalid")
        return converted

    def bound_data(self, data, initial):
        try:
            bound = super().bound_data(data, initial)
        except ValueError:
            return forms.fields.InvalidJSONInput(data)
        if _lone_surrogate(bound):
            return forms.fields.InvalidJSONInput(data)  # shown again as typed (ASCII escapes)
        return bound


class UnicodeOnly:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if type(field) is forms.JSONField:
                field.__class__ = UnicodeJSONField


class ScenarioForm(UnicodeOnly, forms.ModelForm):
    class Meta:
        model = Scenario
        fields = ("slug", "title", "description", "teaches", "seed", "brokers", "duration_ms",
                  "cluster_config", "steps", "figures")
        widgets = {"description": forms.Textarea(attrs={"rows": 4}),
                   "seed": forms.TextInput(attrs={"size": 20}),
                   "steps": forms.Textarea(attrs={"rows": 6}),
                   "figures": forms.Textarea(attrs={"rows": 3}),
                   "cluster_config": forms.Textarea(attrs={"rows": 2})}

    # Blank is allowed for these (the model says so) but NULL is not: an emptied box meant
    # "none", and saving it as NULL was an IntegrityError (a 500).
    def clean_cluster_config(self):
        value = self.cleaned_data.get("cluster_config")
        return {} if value is None else value

    def clean_steps(self):
        value = self.cleaned_data.get("steps")
        return [] if value is None else value

    def clean_figures(self):
        value = self.cleaned_data.get("figures")
        return [] if value is None else value

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        # A recording may hold the slug (one namespace under /s/); another scenario holding
        # it is the unique constraint's error, said once.
        if slug != self.instance.slug and slug_taken(slug) and \
                not Scenario.objects.filter(slug=slug).exists():
            raise ValidationError(f"/s/{slug} is a shared recording already; pick another "
                                  "slug")
        return slug

    def clean(self):
        cleaned = super().clean()
        formsets = getattr(self.instance, REGISTRY_ATTR, None)
        if formsets is not None:
            check_whole_scenario(self, formsets)
        return cleaned


class PartFormSet(forms.BaseInlineFormSet):
    """An inline formset that registers itself with the scenario it belongs to."""

    def __init__(self, *args, registry=None, **kwargs):
        super().__init__(*args, **kwargs)
        if registry is not None:
            registry[PART_OF_MODEL[self.model]] = self


class TopicForm(UnicodeOnly, forms.ModelForm):
    class Meta:
        model = Topic
        fields = ("position", *mapping.TOPIC_COLUMNS)


class GroupForm(UnicodeOnly, forms.ModelForm):
    class Meta:
        model = Group
        fields = ("position", *mapping.GROUP_COLUMNS)
        widgets = {"topics": forms.TextInput(attrs={"size": 60}),
                   "consumer_list": forms.Textarea(attrs={"rows": 2, "cols": 60}),
                   "consumer": forms.Textarea(attrs={"rows": 2, "cols": 60})}
        help_texts = {
            "assignor": "One of: " + ", ".join(ASSIGNORS) + ". Empty: range.",
            "retry_mode": "One of: " + ", ".join(RETRY_MODES) + ". Empty: blocking.",
            "auto_offset_reset": "earliest or latest. Empty: earliest (the playground's "
                                 "teaching default).",
            "dead_letter_topic": "Empty: <topic>-dlt.",
        }


class ProducerForm(UnicodeOnly, forms.ModelForm):
    class Meta:
        model = Producer
        fields = ("position", *mapping.PRODUCER_COLUMNS)
        widgets = {"rate_per_s": forms.TextInput(attrs={"size": 10}),
                   "keys": forms.TextInput(attrs={"size": 60}),
                   "value": forms.Textarea(attrs={"rows": 2, "cols": 60})}
        help_texts = {"acks": "0, 1 or all. Empty: all.",
                      "count": "Stop after this many records (or give stop_ms)."}


class TimelineForm(UnicodeOnly, forms.ModelForm):
    class Meta:
        model = TimelineEntry
        fields = ("position", *mapping.TIMELINE_COLUMNS)
        widgets = {"command": forms.Textarea(attrs={"rows": 2, "cols": 60})}


def _kept_forms(formset) -> list:
    """The formset's forms that will be rows after saving, in the order the rows will have
    (Part.Meta.ordering: position, empty last, then existing rows before new ones)."""
    kept = []
    for i, form in enumerate(formset.forms):
        if formset.can_delete and formset._should_delete_form(form):
            continue
        if form.instance.pk is None and not form.has_changed():
            continue  # an untouched blank row
        position = form.cleaned_data.get("position")
        kept.append(((position is None, position or 0,
                      form.instance.pk if form.instance.pk is not None else math.inf, i),
                     form))
    kept.sort(key=lambda item: item[0])
    return [form for _, form in kept]


def _add(form, field, message: str) -> None:
    if field is not None and field not in form.fields:
        field = None
    form.add_error(field, message)


def check_whole_scenario(main_form, formsets: dict) -> None:
    """Validate the scenario the forms describe with broker_core; put each error on its form
    and field. Field errors come first: the whole is checked only when every field is fine."""
    if main_form.errors:
        return
    valid = True
    for formset in formsets.values():
        valid = formset.is_valid() and valid
    if not valid:
        return
    scenario = {c: main_form.cleaned_data.get(c, getattr(main_form.instance, c))
                for c in mapping.SCENARIO_COLUMNS}
    ordered = {part: _kept_forms(formsets[part]) if part in formsets else None
               for part in PART_COLUMNS}
    rows = {}
    for part, columns in PART_COLUMNS.items():
        if ordered[part] is None:
            # Not on this page (an inline hidden by permissions): the stored rows stand.
            from .store import read_rows

            rows[part] = read_rows(main_form.instance)[part] if main_form.instance.pk else []
            continue
        rows[part] = [{c: f.cleaned_data.get(c) for c in columns} for f in ordered[part]]
    doc = mapping.spec_from_rows(scenario, rows["topics"], rows["groups"], rows["producers"],
                                 rows["timeline"])
    try:
        validate_scenario(doc)
    except ScenarioError as e:
        for err in e.errors:
            _place(main_form, ordered, err["path"], err["message"])


def _place(main_form, ordered: dict, path: str, message: str) -> None:
    part, index, column = mapping.locate(path)
    if part == "scenario":
        rest = path[2:]  # "$.steps[1].watch" -> "steps[1].watch"
        plain = column is not None and rest in (column, "name", "duration")
        _add(main_form, column, message if plain else f"{rest or '$'}: {message}")
        return
    forms_of_part = ordered.get(part) or []
    if index is None or index >= len(forms_of_part):
        _add(main_form, None, f"{path[2:]}: {message}")
        return
    form = forms_of_part[index]
    if column == "consumers":
        column = ("consumer_list" if form.cleaned_data.get("consumer_list") is not None
                  else "consumer_count")
    # Deeper than the column (a consumer setting, an emit, a command's field): say where.
    rest = path[len(f"$.{part}[{index}]"):].lstrip(".")
    plain = column is not None and (rest == column or column in mapping.CONFIG_COLUMNS.values()
                                    or (column == "producer_id" and rest == "id"))
    _add(form, column, message if plain else f"{rest or part}: {message}")
