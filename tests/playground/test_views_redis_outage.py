"""While the rooms' Redis is away, pages that need it answer a clear 503 with Retry-After
instead of a server error; a room this process already runs keeps its page."""

import logging
import time

import pytest

from playground.rooms.registry import Rooms, set_rooms
from playground.views import REDIS_RETRY_S
from tests.conftest import free_port

# /s/<slug> makes a session and looks up scenarios: the database. The views run through the
# synchronous test client, whose event loop lets their database calls run in the test's thread.
pytestmark = pytest.mark.django_db

MESSAGE = "The room service's Redis is unreachable; try again shortly."


@pytest.fixture
def rooms_without_redis():
    """Rooms configured for a Redis that nobody serves (a free port: connection refused)."""
    rooms = Rooms(max_rooms=3, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    set_rooms(rooms)
    yield rooms
    set_rooms(None)


def assert_redis_503(response):
    assert response.status_code == 503
    assert response["Retry-After"] == str(REDIS_RETRY_S)
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == MESSAGE


def test_opening_a_scenario_while_redis_is_down_is_503_and_leaves_no_room(
        client, rooms_without_redis, caplog):
    caplog.set_level(logging.ERROR, logger="django.request")
    started = time.monotonic()
    response = client.get("/s/signup")
    assert_redis_503(response)
    assert time.monotonic() - started < 30
    # The room made before its lease could be taken is dropped: it holds no slot.
    assert rooms_without_redis.awake == {}
    assert not [r for r in caplog.records if r.exc_info]  # no traceback logged


def test_a_room_page_while_redis_is_down_is_503(client, rooms_without_redis):
    assert_redis_503(client.get("/r/0123456789"))
    assert_redis_503(client.get("/r/live"))


@pytest.fixture
def signup():
    from playground.views import find_scenario

    return find_scenario("signup")


def test_a_room_this_process_runs_keeps_its_page_while_redis_is_down(
        client, rooms_without_redis, settings, tmp_path, signup):
    # The page helper owns templates/playground/room.html: a stand-in keeps this test to
    # the view's own answer.
    (tmp_path / "playground").mkdir()
    (tmp_path / "playground" / "room.html").write_text("{{ room_id }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0],
                           "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    room = rooms_without_redis.create(signup["spec"], seed=signup["seed"], meta=signup["meta"])
    response = client.get(f"/r/{room.id}")
    assert response.status_code == 200
    assert response.content.decode() == room.id
