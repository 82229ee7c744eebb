"""Small things a user notices (issue 12): the produce form's first record is the scenario's
own, topics and groups keep the order the room made them in (reload, restart), the site's 404
page shows with DEBUG on too, and `make superuser` works as the README says."""

import os
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest

from broker_core.scenarios import BUILTIN_NAMES, load_builtin
from playground.rooms.page_defaults import produce_defaults
from tests.playground.rooms_support import clock, rooms  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]


# -- the produce form ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [
    # A sequence producer's first key it never sends (20 videos: video-1 .. video-20).
    ("youtube-upload", {"topic": "video-uploaded", "key": "video-21",
                        "value": '{"video": "video-21"}', "acks": "all"}),
    ("amazon-orders", {"topic": "order-placed", "key": "order-61",
                       "value": '{"orderId": "order-61", "event": "handleOrderPlacedEvent"}',
                       "acks": "all"}),
    ("signup", {"topic": "signup", "key": "user-1081",
                "value": '{"userId": "user-1081", "plan": "free"}', "acks": "all"}),
    # Keys drawn from a set: one of them; {n} is the record's number, from 1.
    ("rebalance", {"topic": "clicks", "key": "session-1", "value": "click 2001",
                   "acks": "all"}),
    # No producers: after the timeline's last produce command (like-4), with its acks.
    ("lost-write", {"topic": "likes", "key": "like-5", "value": "video-9 +1", "acks": "1"}),
])
def test_the_produce_form_starts_from_the_scenarios_own_record(name, expected):
    assert produce_defaults(load_builtin(name)) == expected


def test_no_built_in_offers_another_storys_order_17():
    for name in BUILTIN_NAMES:
        defaults = produce_defaults(load_builtin(name))
        assert defaults["key"] != "order-17", name
        spec = load_builtin(name)
        assert defaults["topic"] in [t["name"] for t in spec["topics"]], name


def test_a_scenario_with_nothing_to_copy_gets_a_neutral_record():
    spec = {"name": "bare", "brokers": 1, "timeline": [],
            "topics": [{"name": "zeta"}, {"name": "alpha"}]}
    assert produce_defaults(spec) == {"topic": "zeta", "key": "key-1", "value": "hello",
                                      "acks": "all"}
    assert produce_defaults({"name": "empty", "brokers": 1, "timeline": []})["topic"] is None
    keyless = {**spec, "producers": [{"id": "p", "topic": "alpha", "rate_per_s": 1,
                                      "keys": {"kind": "null"}, "acks": "0", "count": 3}]}
    assert produce_defaults(keyless) == {"topic": "alpha", "key": "", "value": "",
                                         "acks": "0"}


# -- topic and group order ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_page_gets_the_order_the_room_made_topics_and_groups_in(rooms):  # noqa: F811
    spec = load_builtin("youtube-upload")
    room = rooms.create(spec)
    page = await rooms.page(room.id)
    topics = [t["name"] for t in spec["topics"]]
    groups = [g["name"] for g in spec["groups"]]
    assert page["topic_order"] == topics and page["group_order"] == groups
    assert sorted(topics) != topics and sorted(groups) != groups  # not by name, as before
    # Made later: at the end, however it is spelled; and so after a restart's replay.
    room.cluster.apply({"type": "topic.create", "name": "aaa-late", "partitions": 1,
                        "replication_factor": 1})
    room.cluster.apply({"type": "consumer.add", "group": "aaa-group", "topics": ["aaa-late"]})
    await rooms.persist(room.id)
    rooms.sleep(room.id)
    page = await rooms.page(room.id)
    assert page["topic_order"] == [*topics, "aaa-late"]
    assert page["group_order"] == [*groups, "aaa-group"]
    assert page["produce_defaults"]["key"] == "video-21"


# -- the 404 page ---------------------------------------------------------------------------------


@pytest.fixture
def registry():
    from playground.rooms.registry import Rooms, set_rooms

    set_rooms(Rooms(max_rooms=3))
    yield
    set_rooms(None)


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(("url", "names"), [
    ("/s/no-such-story", "/s/no-such-story"),
    ("/s/no-such-story/export", "/s/no-such-story"),
    ("/r/0123456789", "0123456789"),
])
def test_an_unknown_slug_or_room_gets_the_sites_404_in_every_mode(client, settings, registry,
                                                                 debug, url, names):
    settings.DEBUG = debug  # `make run` has it on: Django's technical 404 showed there
    response = client.get(url)
    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    html = response.content.decode()
    assert "Nothing here" in html and "Back to the scenarios" in html and names in html
    assert "URLconf" not in html and "technical" not in html.lower()


# -- make superuser -------------------------------------------------------------------------------


def test_make_superuser_works_as_the_readme_says(tmp_path):
    section = readme_admin_section()
    assert re.findall(r"```sh\n(.*?)```", section, re.S) == ["make superuser\n"]
    database = tmp_path / "db.sqlite3"
    # A user's shell: no secret key, no test settings, DEBUG unset (off).
    env = {k: v for k, v in os.environ.items()
           if k not in ("DJANGO_SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG")}
    env.update(DATABASE_URL=f"sqlite:///{database}", DJANGO_SUPERUSER_USERNAME="teacher",
               DJANGO_SUPERUSER_EMAIL="teacher@example.com",
               DJANGO_SUPERUSER_PASSWORD="a-long-password-for-tests")
    done = subprocess.run(["make", "--no-print-directory", "superuser", "ARGS=--noinput"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Superuser created successfully." in done.stdout
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT is_superuser, is_staff FROM auth_user WHERE username = ?",
                          ("teacher",)).fetchall()
    assert rows == [(1, 1)]


def readme_admin_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.search(r"### The scenario library and the admin\n(.*?)\n## ", text, re.S).group(1)
