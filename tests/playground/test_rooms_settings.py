"""The rooms' settings, read from the environment by playground.env."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from playground.env import allowed_origins, bounded_number


def test_allowed_origins_default_to_the_allowed_hosts_check():
    assert allowed_origins({}, ["localhost"]) is None


def test_allowed_origins_are_listed_explicitly():
    env = {"PLAYGROUND_ALLOWED_ORIGINS": "https://class.example, .school.example ,"}
    assert allowed_origins(env, ["*"]) == ["https://class.example", ".school.example"]


def test_any_host_without_explicit_origins_is_refused():
    # ALLOWED_HOSTS=* would make the origin check accept every web page.
    with pytest.raises(ImproperlyConfigured, match="PLAYGROUND_ALLOWED_ORIGINS"):
        allowed_origins({}, ["*"])
    with pytest.raises(ImproperlyConfigured, match="must list origins"):
        allowed_origins({"PLAYGROUND_ALLOWED_ORIGINS": "*"}, ["localhost"])


def test_bounded_numbers():
    assert bounded_number({}, "X", 7, 1, 10) == 7
    assert bounded_number({"X": " 3 "}, "X", 7, 1, 10) == 3
    assert bounded_number({"X": "2.5"}, "X", 7, 0.1, 10, integer=False) == 2.5
    for bad in ("0", "11", "two", "2.5"):
        with pytest.raises(ImproperlyConfigured, match="X"):
            bounded_number({"X": bad}, "X", 7, 1, 10)
