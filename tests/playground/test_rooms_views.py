"""The gallery, opening a scenario into a room, and the room page's context (protocol.md)."""

import json

import pytest

from broker_core.scenarios import load_builtin
from playground.rooms.registry import Rooms, set_rooms

# /s/<slug> makes a session (the presenter's) and looks up recordings: both in the database.
pytestmark = pytest.mark.django_db

# The page helper owns templates/playground/room.html; these tests render a stand-in that
# shows exactly the context the protocol promises.
ROOM_TEMPLATE = ("{{ room_id }}|{{ ws_path }}|{{ scenario.name }}|"
                 "{{ bootstrap|json_script:'room-bootstrap' }}")


@pytest.fixture
def registry():
    rooms = Rooms(max_rooms=3)
    set_rooms(rooms)
    yield rooms
    set_rooms(None)


@pytest.fixture
def room_template(settings, tmp_path):
    (tmp_path / "playground").mkdir()
    (tmp_path / "playground" / "room.html").write_text(ROOM_TEMPLATE)
    settings.TEMPLATES = [{**settings.TEMPLATES[0],
                           "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]


@pytest.mark.django_db  # the gallery is the scenario library's rows
def test_the_gallery_lists_every_built_in_with_its_link(client, registry):
    from broker_core.scenarios import BUILTIN_NAMES

    response = client.get("/")
    assert response.status_code == 200
    scenarios = response.context["scenarios"]
    assert [s["name"] for s in scenarios] == list(BUILTIN_NAMES)
    for s in scenarios:
        assert s["url"] == f"/s/{s['name']}"
        assert s["title"] and s["description"] and s["teaches"]


def test_opening_a_scenario_makes_a_room_and_redirects_to_it(client, registry, room_template):
    response = client.get("/s/signup")
    assert response.status_code == 302
    room_id = response["Location"].removeprefix("/r/")
    assert response["Location"] == f"/r/{room_id}"
    assert room_id in registry.awake
    assert registry.awake[room_id].cluster.snapshot()["topics"]["signup"]
    # Each visit opens a fresh room.
    assert client.get("/s/signup")["Location"] != response["Location"]

    page = client.get(f"/r/{room_id}")
    assert page.status_code == 200
    assert page.context["room_id"] == room_id
    assert page.context["ws_path"] == f"/ws/rooms/{room_id}/"
    scenario = page.context["scenario"]
    assert scenario["name"] == "signup" and scenario["title"].startswith("Sign-up")
    assert {"description", "teaches"} <= set(scenario) and len(scenario["steps"]) == len(
        load_builtin("signup")["steps"])
    html = page.content.decode()
    assert html.startswith(f"{room_id}|/ws/rooms/{room_id}/|signup|")
    start = html.index('<script id="room-bootstrap" type="application/json">')
    bootstrap = json.loads(html[html.index(">", start) + 1:html.index("</script>")])
    assert bootstrap == {"room_id": room_id, "ws_path": f"/ws/rooms/{room_id}/",
                         "scenario": scenario, "embed": False, "replay": None,
                         # signup's producer sends user-1001 .. user-1080 (80 records).
                         "produce_defaults": {"topic": "signup", "key": "user-1081",
                                              "value": '{"userId": "user-1081", "plan": "free"}',
                                              "acks": "all"},
                         "topic_order": ["signup"], "group_order": ["welcome-email", "profile"]}


def test_a_sleeping_room_still_has_its_page(client, registry, room_template):
    room_id = client.get("/s/rebalance")["Location"].removeprefix("/r/")
    awake = client.get(f"/r/{room_id}").context["scenario"]
    registry.sleep(room_id)
    page = client.get(f"/r/{room_id}")
    assert page.status_code == 200 and page.context["scenario"] == awake
    assert awake["name"] == "rebalance" and awake["steps"]


def test_unknown_scenarios_and_rooms_are_404(client, registry):
    assert client.get("/s/no-such-story").status_code == 404
    assert client.get("/r/0123456789").status_code == 404
    assert client.get("/r/not-a-room").status_code == 404


def test_a_full_server_says_so(client, registry):
    for _ in range(3):
        room_id = client.get("/s/signup")["Location"].removeprefix("/r/")
        registry.awake[room_id].viewers.add("someone")
    response = client.get("/s/signup")
    assert response.status_code == 503
    assert "rooms" in response.content.decode()


def test_one_address_past_its_rooms_gets_429_naming_the_limit(client):
    from django.test import Client

    rooms = Rooms(max_rooms=10, rooms_per_address=2)
    set_rooms(rooms)
    try:
        for _ in range(2):
            room_id = client.get("/s/signup")["Location"].removeprefix("/r/")
            rooms.awake[room_id].viewers.add("tab")  # watched: none may be put to sleep
        refused = client.get("/s/signup")
        assert refused.status_code == 429 and refused["Retry-After"] == "60"
        assert "PLAYGROUND_ROOMS_PER_ADDRESS = 2" in refused.content.decode()
        # Another address (another school) still gets a room.
        other = Client(REMOTE_ADDR="198.51.100.7").get("/s/signup")
        assert other.status_code == 302
    finally:
        for room in rooms.awake.values():
            room.viewers.clear()
        set_rooms(None)


def test_waking_a_stored_room_from_its_page_draws_on_the_allowance(client):
    rooms = Rooms(max_rooms=10, create_burst=1, create_per_min=1)
    set_rooms(rooms)
    try:
        room_id = client.get("/s/signup")["Location"].removeprefix("/r/")  # the one token
        rooms.sleep(room_id)
        refused = client.get(f"/r/{room_id}")
        assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    finally:
        set_rooms(None)
