"""The built-in loader: idempotent, follows its files, never overwrites someone's scenario."""

import copy

import pytest
from django.core.management import call_command

from broker_core.scenarios import BUILTIN_NAMES, load_builtin
from playground.library.builtins import load_builtins
from playground.library.models import Scenario, Topic

pytestmark = pytest.mark.django_db


def snapshot() -> dict:
    return {s.slug: (s.updated, sorted(s.topics.values_list("id", flat=True)))
            for s in Scenario.objects.all()}


def test_the_migration_loaded_every_builtin():
    assert sorted(Scenario.objects.filter(builtin=True).values_list("slug", flat=True)) == \
        sorted(BUILTIN_NAMES)


def test_loading_twice_changes_nothing():
    before = snapshot()
    assert load_builtins() == {"created": [], "updated": [], "unchanged": list(BUILTIN_NAMES),
                               "conflicts": []}
    assert load_builtins()["unchanged"] == list(BUILTIN_NAMES)
    assert snapshot() == before  # not even rewritten with the same values


def test_a_changed_file_updates_its_row_and_only_that():
    def changed(name):
        spec = load_builtin(name)
        if name == "signup":
            spec = copy.deepcopy(spec)
            spec["topics"][0]["partitions"] = 4
        return spec

    before = snapshot()
    result = load_builtins(load=changed)
    assert result["updated"] == ["signup"]
    assert Topic.objects.get(scenario__slug="signup", name="signup").partitions == 4
    after = snapshot()
    assert {k for k in after if after[k] != before[k]} == {"signup"}
    assert load_builtins(load=changed)["unchanged"] == list(BUILTIN_NAMES)
    assert load_builtins()["updated"] == ["signup"]  # and back
    assert Topic.objects.get(scenario__slug="signup", name="signup").partitions == 2


def test_a_deleted_builtin_comes_back_and_someones_scenario_is_not_overwritten(capsys):
    Scenario.objects.filter(slug="lost-write").delete()
    signup = Scenario.objects.get(slug="signup")
    signup.builtin = False
    signup.title = "my own signup"
    signup.save()
    call_command("load_scenarios")
    out = capsys.readouterr()
    assert "created: lost-write" in out.out
    assert "not loaded: /s/signup" in out.err
    assert Scenario.objects.get(slug="signup").title == "my own signup"
    assert Scenario.objects.get(slug="lost-write").builtin
