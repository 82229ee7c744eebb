"""The API-versions conformance program (conformance/clients/versions.py, raw sockets) against the
in-process playground listener: it runs to the end, prints one well-formed line for every check
the comparator lines up with real Kafka's run, and reads the listener's own ApiVersions range."""

import sys

import pytest

from conformance.clients import versions
from playground.kafka.handlers import HANDLERS
from tests.clients.conftest import observed, run_program
from tests.kafka.conftest import Live

# The program takes about a second against the playground; bounded so a hang fails the test.
RUN_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def lines():
    live = Live()
    try:
        found, err, _ = run_program([sys.executable, "-m", "conformance.clients.versions",
                                     "--bootstrap", live.bootstrap, "--prefix", "pytest-versions"],
                                    RUN_TIMEOUT_S)
        yield found, err
    finally:
        live.close()


def expected_checks() -> list[str]:
    keys = sorted(set(versions.KAFKA_APIS) | set(HANDLERS))
    names = [f"versions.advertised.{versions.api_name(k)}" for k in keys]
    names.append("versions.apiversions_unsupported")
    names += [check for check, _, _ in versions.probes(
        {k: (a.min_version, a.max_version) for k, a in HANDLERS.items()}, "")]
    return names + ["versions.unknown_api", "versions.request_too_large",
                    "versions.big_produce"]


def test_versions_program_prints_every_check_in_order(lines):
    found, err = lines
    assert list(found) == expected_checks(), err[-3000:]
    errors = {c: line for c, line in found.items() if "error" in line}
    assert not errors, err[-3000:]
    # A probe skips only an API the listener does not advertise.
    for check, line in found.items():
        if "skip" in line:
            api = check.rsplit(".", 1)[1]
            assert observed(found, f"versions.advertised.{api}") == "absent", line


def test_versions_program_reads_the_listeners_own_range(lines):
    found, _ = lines
    served = HANDLERS[18]
    assert observed(found, "versions.advertised.ApiVersions") == {
        "min": served.min_version, "max": served.max_version}
    produce = HANDLERS[0]
    # Advertised from v0 as Kafka 4 does (KAFKA-18659), served from min_version.
    assert observed(found, "versions.advertised.Produce") == {
        "min": produce.advertised_min, "max": produce.max_version}
    # KIP-511: ApiVersions at a version nobody has is answered in v0 with the served range.
    assert observed(found, "versions.apiversions_unsupported") == {
        "answer": "UNSUPPORTED_VERSION",
        "ranges": {"ApiVersions": {"min": served.min_version, "max": served.max_version}}}
    assert observed(found, "versions.above_max.ApiVersions")["answer"] == "UNSUPPORTED_VERSION"
