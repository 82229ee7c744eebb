"""The library's admin: staff only, broker_core's messages at the right field, built-ins
read-only with fork, and "Open in playground"."""

import pytest

from broker_core import Cluster
from broker_core.config import validate_topic_name
from broker_core.errors import CommandError
from broker_core.scenario import validate_scenario
from playground.library.models import Scenario
from playground.rooms.registry import Rooms, set_rooms
from tests.library.helpers import admin_post, inline_forms

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/library/scenario/add/"


def message_of(call) -> str:
    """broker_core's own message for a failing call: the tests never spell the rules out."""
    with pytest.raises(CommandError) as caught:
        call()
    return caught.value.message


@pytest.fixture
def registry():
    rooms = Rooms(max_rooms=3)
    set_rooms(rooms)
    yield rooms
    set_rooms(None)


def test_anonymous_admin_requests_go_to_the_login_page(client):
    scenario = Scenario.objects.get(slug="signup")
    for url in ("/admin/", "/admin/library/scenario/", ADD_URL,
                f"/admin/library/scenario/{scenario.pk}/change/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"/admin/login/?next={url}"), url
    # The custom POST views too: no room is opened for an anonymous visitor.
    response = client.post(f"/admin/library/scenario/{scenario.pk}/open/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_non_staff_user_is_not_let_in(client, django_user_model):
    user = django_user_model.objects.create_user("student", password="pw-123456-long")
    client.force_login(user)
    response = client.get("/admin/library/scenario/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_bad_topic_name_shows_broker_cores_message_at_that_field(admin_client):
    response = admin_client.post(ADD_URL, admin_post(topics=[{"name": "bad name!",
                                                              "partitions": 3}]))
    assert response.status_code == 200
    forms = inline_forms(response, "topics")
    expected = message_of(lambda: validate_topic_name("bad name!"))
    assert forms[0].errors["name"] == [expected]
    assert not Scenario.objects.filter(slug="my-scenario").exists()


def test_whole_scenario_rules_land_on_the_field_they_are_about(admin_client):
    """Errors only the whole scenario can find: broker_core judges the document the forms
    would save, and each message goes to its row and column."""
    data = admin_post(
        scenario={"brokers": "2"},
        topics=[{"name": "orders", "partitions": 3, "replication_factor": 3},
                {"name": "audit", "retention_ms": -5}],
        producers=[{"producer_id": "shop", "topic": "missing", "rate_per_s": 1}],
        timeline=[{"at_ms": 10, "command": {"type": "broker.stop", "broker": 9}}],
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 200
    topics = inline_forms(response, "topics")
    # A single field's rule comes first, from its column's validator (broker_core's reader).
    from broker_core.config import validate_config

    assert topics[1].errors["retention_ms"] == [
        message_of(lambda: validate_config({"retention.ms": -5}))]
    # Fix that one; now the whole scenario is checked.
    data["topics-1-retention_ms"] = "-1"
    response = admin_client.post(ADD_URL, data)
    topics = inline_forms(response, "topics")
    scratch = Cluster(seed=7, brokers=2)
    assert topics[0].errors["replication_factor"] == [message_of(lambda: scratch.apply(
        {"type": "topic.create", "name": "orders", "partitions": 3,
         "replication_factor": 3}))]
    assert "retention_ms" not in topics[1].errors
    producers = inline_forms(response, "producers")
    assert producers[0].errors["topic"] == [message_of(lambda: scratch.apply(
        {"type": "producer.add", "id": "shop", "topic": "missing", "rate_per_s": 1}))]
    timeline = inline_forms(response, "timeline")
    stop = message_of(lambda: scratch.apply({"type": "broker.stop", "broker": 9}))
    assert timeline[0].errors["command"] == [f"command.broker: {stop}"]
    assert not Scenario.objects.filter(slug="my-scenario").exists()


def test_scenario_level_errors_are_at_the_main_forms_fields(admin_client):
    response = admin_client.post(ADD_URL, admin_post(scenario={"brokers": "0",
                                                               "slug": "Not A Slug"}))
    form = response.context["adminform"].form
    assert "lowercase letters, digits and '-'" in form.errors["slug"][0]
    assert form.errors["brokers"] == ["must be a whole number between 1 and 16, not 0"]
    response = admin_client.post(ADD_URL, admin_post(scenario={"title": "x" * 300}))
    form = response.context["adminform"].form
    assert form.errors["title"] == ["must be at most 200 characters, not 300"]
    response = admin_client.post(ADD_URL, admin_post(
        scenario={"steps": '[{"title": "look", "watch": {"topic": "nowhere"}}]'}))
    form = response.context["adminform"].form
    assert form.errors["steps"] == ["steps[0].watch.topic: no topic 'nowhere' in this "
                                    "scenario"]


def test_a_valid_scenario_is_saved_in_order_and_validates(admin_client):
    data = admin_post(
        topics=[{"name": "b-second", "position": 2}, {"name": "a-first", "position": 1,
                                                       "min_insync_replicas": 1}],
        groups=[{"name": "readers", "topics": ["a-first"], "consumer_count": 2,
                 "consumer": {"processing_ms": 10}, "max_attempts": 2}],
        producers=[{"producer_id": "p", "topic": "a-first", "rate_per_s": 0.5, "count": 3}],
        timeline=[{"at_ms": 1000, "command": {"type": "broker.stop", "broker": 2}}],
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 302, response.context and [
        f.errors for fs in response.context["inline_admin_formsets"] for f in fs.formset]
    scenario = Scenario.objects.get(slug="my-scenario")
    spec = validate_scenario(scenario.to_spec())
    assert [t["name"] for t in spec["topics"]] == ["a-first", "b-second"]
    assert spec["topics"][0]["config"] == {"min.insync.replicas": 1}
    assert spec["groups"][0]["consumers"] == [{}, {}]
    assert spec["producers"][0]["rate_per_s"] == 0.5
    assert spec["seed"] == 7 and not scenario.builtin


def test_a_slug_held_by_another_scenario_is_refused_once(admin_client):
    response = admin_client.post(ADD_URL, admin_post(scenario={"slug": "signup"}))
    assert len(response.context["adminform"].form.errors["slug"]) == 1


def test_built_ins_are_read_only_and_can_be_forked(admin_client):
    builtin = Scenario.objects.get(slug="broker-failure")
    url = f"/admin/library/scenario/{builtin.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html  # view only
    assert 'data-action="fork"' in html and 'data-action="open-in-playground"' in html
    assert admin_client.post(url, admin_post(scenario={"slug": "broker-failure"})
                             ).status_code == 403
    response = admin_client.post(f"/admin/library/scenario/{builtin.pk}/fork/")
    copy = Scenario.objects.get(slug="broker-failure-copy")
    assert response.status_code == 302 and response["Location"].endswith(
        f"/{copy.pk}/change/")
    assert copy.forked_from == builtin and not copy.builtin
    assert validate_scenario(copy.to_spec()) == {**validate_scenario(builtin.to_spec()),
                                                 "name": "broker-failure-copy"}
    # The fork is editable; a second fork takes the next free slug.
    assert 'name="_save"' in admin_client.get(
        f"/admin/library/scenario/{copy.pk}/change/").content.decode()
    admin_client.post(f"/admin/library/scenario/{builtin.pk}/fork/")
    assert Scenario.objects.filter(slug="broker-failure-copy-2").exists()
    # A bulk delete that includes a built-in is refused as a whole.
    response = admin_client.post("/admin/library/scenario/", {
        "action": "delete_selected", "_selected_action": [builtin.pk, copy.pk],
        "post": "yes"})
    assert response.status_code == 403
    assert Scenario.objects.filter(pk__in=[builtin.pk, copy.pk]).count() == 2


def test_open_in_playground_makes_a_room_running_the_stored_scenario(admin_client,
                                                                     registry):
    scenario = Scenario.objects.get(slug="signup")
    response = admin_client.post(f"/admin/library/scenario/{scenario.pk}/open/")
    assert response.status_code == 302
    room_id = response["Location"].removeprefix("/r/")
    room = registry.awake[room_id]
    assert list(room.cluster.snapshot()["topics"]) == ["signup"]
    assert room.meta["name"] == "signup"
    assert admin_client.get(f"/admin/library/scenario/{scenario.pk}/open/").status_code == 405

    # The list's action does the same for one selected scenario.
    response = admin_client.post("/admin/library/scenario/", {
        "action": "open_in_playground", "_selected_action": [scenario.pk]})
    assert response.status_code == 302 and response["Location"].startswith("/r/")
    assert len(registry.awake) == 2
    response = admin_client.post("/admin/library/scenario/", {
        "action": "open_in_playground",
        "_selected_action": list(Scenario.objects.values_list("pk", flat=True)[:2])})
    assert response.status_code == 302 and len(registry.awake) == 2  # refused: pick one


def test_group_errors_land_on_the_group_row(admin_client):
    data = admin_post(
        topics=[{"name": "orders"}],
        groups=[{"name": "ok", "topics": ["orders"], "consumer_count": 1},
                {"name": "readers", "topics": ["orders"], "consumer_count": 1,
                 "consumer": {"failure_rate": 2}, "assignor": "fastest",
                 "dead_letter_topic": "orders"}])
    response = admin_client.post(ADD_URL, data)
    groups = inline_forms(response, "groups")
    assert groups[0].errors == {}
    scratch = Cluster(seed=7, brokers=3)
    scratch.apply({"type": "topic.create", "name": "orders"})
    assignor = message_of(lambda: scratch.apply({"type": "group.configure", "group": "readers",
                                                 "assignor": "fastest"}))
    assert groups[1].errors["assignor"] == [assignor]
    # A shared consumer setting is reported once, at the consumer column, saying which one.
    rate = message_of(lambda: scratch.apply({"type": "consumer.add", "group": "readers",
                                             "topics": ["orders"], "failure_rate": 2}))
    assert groups[1].errors["consumer"] == [f"consumer.failure_rate: {rate}"]
