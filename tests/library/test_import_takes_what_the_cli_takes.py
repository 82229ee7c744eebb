"""/import takes what `python -m broker_core run` takes (a bare scenario, JSON or YAML, like
the README's smallest one) besides exports and recordings; a slug that is taken already (your
own export, imported again) gets a fresh one, and the result page says so."""

import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from broker_core.__main__ import main as cli
from broker_core.scenario import parse_text, validate_scenario
from broker_core.scenarios import load_builtin
from playground.library.api import lookup_scenario
from playground.library.models import Scenario
from playground.rooms.models import Recording

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_smallest_scenario() -> str:
    """The YAML block under "The smallest valid scenario" in README.md, as a reader copies it."""
    text = README.read_text(encoding="utf-8")
    after = text[text.index("The smallest valid scenario"):]
    return re.search(r"```yaml\n(.*?)```", after, re.S).group(1)


def test_the_readmes_smallest_yaml_scenario_imports_pasted_and_as_a_file(admin_client, tmp_path):
    yaml = readme_smallest_scenario()
    # The CLI runs it ...
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml, encoding="utf-8")
    with redirect_stdout(io.StringIO()):
        assert cli(["run", str(path), "--until", "1s"]) == 0
    # ... and /import takes it, pasted,
    response = admin_client.post("/import", {"text": yaml})
    assert response.status_code == 302, response.context and response.context["errors"]
    assert response["Location"] == "/s/tiny"
    assert validate_scenario(lookup_scenario("tiny")["spec"]) == validate_scenario(
        parse_text(yaml))
    # and as a .yaml file: its name is taken now, so it gets a fresh one, and says so.
    upload = SimpleUploadedFile("tiny.yaml", yaml.encode(), "application/yaml")
    response = admin_client.post("/import", {"file": upload})
    assert response.status_code == 200
    assert response.context["imported"] == {"slug": "tiny-2", "url": "/s/tiny-2",
                                            "asked": "tiny", "kind": "scenario"}
    html = response.content.decode()
    assert "was taken already" in html and 'href="/s/tiny-2"' in html
    assert validate_scenario(lookup_scenario("tiny-2")["spec"]) == {
        **validate_scenario(parse_text(yaml)), "name": "tiny-2"}


def test_re_importing_your_own_export_gets_a_fresh_slug(admin_client):
    export = admin_client.get("/s/amazon-orders/export").content.decode()
    for expected in ("amazon-orders-2", "amazon-orders-3"):
        response = admin_client.post("/import", {"text": export})
        assert response.status_code == 200
        assert response.context["imported"]["slug"] == expected
        assert f"/s/{expected}" in response.content.decode()
        copy = Scenario.objects.get(slug=expected)
        assert not copy.builtin
        assert validate_scenario(copy.to_spec()) == {**load_builtin("amazon-orders"),
                                                     "name": expected}
    # The original is untouched.
    assert Scenario.objects.get(slug="amazon-orders").builtin


def test_a_bare_json_scenario_imports_and_its_errors_are_at_its_own_paths(admin_client):
    spec = {**load_builtin("signup"), "name": "my-signup"}
    response = admin_client.post("/import", {"text": json.dumps(spec)})
    assert response.status_code == 302 and response["Location"] == "/s/my-signup"
    # Wrong: the paths are the CLI's ($.brokers), not under a wrapper it never had.
    broken = {"name": "broken", "brokers": 0, "timeline": [], "topics": [{"name": "bad name!"}]}
    response = admin_client.post("/import", {"text": json.dumps(broken)})
    assert response.status_code == 400
    assert [p for p, _ in response.context["errors"]] == ["$.brokers", "$.topics[0].name"]
    assert not Scenario.objects.filter(slug="broken").exists()


def test_a_bare_scenario_still_takes_a_staff_login(client):
    response = client.post("/import", {"text": readme_smallest_scenario()})
    assert response.status_code == 400
    (path, message), = response.context["errors"]
    assert path == "$" and "staff login" in message
    assert not Scenario.objects.filter(slug="tiny").exists()


def test_a_recording_imported_again_gets_a_fresh_slug(admin_client):
    document = {"format": "playground.recording", "version": 1, "slug": "my-run",
                "scenario": load_builtin("signup"), "seed": 3, "end_ms": 5_000,
                "log": [{"at_ms": 1_000, "command": {"type": "produce", "topic": "signup",
                                                     "key": "k", "value": "v"}}]}
    response = admin_client.post("/import", {"text": json.dumps(document)})
    assert response.status_code == 302 and response["Location"] == "/s/my-run"
    export = admin_client.get("/s/my-run/export").content.decode()
    response = admin_client.post("/import", {"text": export})
    assert response.status_code == 200
    assert response.context["imported"] == {"slug": "my-run-2", "url": "/s/my-run-2",
                                            "asked": "my-run", "kind": "recording"}
    assert Recording.objects.filter(slug="my-run-2").exists()


def test_a_null_slug_means_the_scenarios_own_name(admin_client):
    """Found by the import fuzzer: "slug": null reached the save as no slug at all."""
    document = {"format": "playground.scenario", "version": 1, "slug": None,
                "scenario": {"name": "named", "brokers": 1, "timeline": []}}
    response = admin_client.post("/import", {"text": json.dumps(document)})
    assert response.status_code == 302 and response["Location"] == "/s/named"
