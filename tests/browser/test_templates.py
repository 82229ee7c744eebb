"""The page's templates as Django renders them (no browser): the gallery, the 404 page, and the
room frame's hooks the modules need."""

import json

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils.html import escape

from broker_core.scenarios import list_builtins


@pytest.mark.django_db  # the gallery is the scenario library's rows
def test_home_is_a_gallery_of_every_built_in_scenario(client):
    html = client.get("/").content.decode()
    for item in list_builtins():
        card = html[html.index(f'data-scenario="{item["name"]}"'):]
        card = card[:card.index("</li>")]
        assert f'href="/s/{item["name"]}"' in card
        assert "What it teaches" in card
        # Django escapes what the scenario says; compare against the escaped text.
        assert escape(item["teaches"]) in card


def test_the_404_page_links_back_to_the_gallery(client):
    # Not /r/<unknown id>: that view looks the id up in the database first (its own tests
    # cover it), and a connection opened in the async view's thread would outlive this test.
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert 'href="/"' in response.content.decode()


def test_the_room_frame_carries_bootstrap_and_every_mount_point():
    scenario = {"name": "x", "title": "<i>T</i>", "description": "", "teaches": "", "steps": []}
    bootstrap = {"room_id": "abc", "ws_path": "/ws/rooms/abc/", "scenario": scenario}
    html = render_to_string("playground/room.html", {**bootstrap, "bootstrap": bootstrap},
                            request=RequestFactory().get("/r/abc"))
    start = html.index('<script id="room-bootstrap" type="application/json">')
    assert json.loads(html[html.index(">", start) + 1:html.index("</script>", start)]) == bootstrap
    assert "<i>T</i>" not in html and "&lt;i&gt;T&lt;/i&gt;" in html
    for mount in ("clock", "play", "step", "speed", "producers", "controller", "brokers",
                  "side-topics", "groups", "legend", "inspector", "log-list", "announcer",
                  "flights", "narration", "produce-form", "shortcuts"):
        assert f'id="{mount}"' in html, mount
    assert 'src="/static/playground/ui.js"' in html and 'type="module"' in html


def render_room(embed):
    scenario = {"name": "x", "title": "T", "description": "", "teaches": "", "steps": []}
    bootstrap = {"room_id": "abc", "ws_path": "/ws/rooms/abc/", "scenario": scenario}
    return render_to_string("playground/room.html",
                            {**bootstrap, "bootstrap": bootstrap, "embed": embed},
                            request=RequestFactory().get("/r/abc"))


def test_the_room_frame_has_the_issue_5_controls():
    html = render_room(embed=False)
    for mount in ("session", "drive-text", "open-toggle", "replay", "scrub", "scrub-marks",
                  "scrub-ticks", "fork", "share", "share-panel", "share-url", "share-copy",
                  "share-export", "share-status", "confirm", "confirm-ok", "confirm-cancel"):
        assert f'id="{mount}"' in html, mount
    # The share result is announced; the switch is a labelled checkbox.
    status = html[html.index('id="share-status"') - 80:html.index('id="share-status"') + 80]
    assert 'aria-live="polite"' in status
    assert 'role="switch"' in html and "Let everyone drive" in html
    assert '<body class="room-page">' in html and 'class="brand"' in html
    assert 'id="full-page"' not in html


def test_an_embedded_room_frame_leaves_the_site_out():
    html = render_room(embed=True)
    assert '<body class="room-page embed">' in html
    assert 'class="brand"' not in html
    # The time controls stay, and a way out to the full page.
    for mount in ("play", "step", "speed", "clock", "full-page"):
        assert f'id="{mount}"' in html, mount
    assert 'href="/r/abc"' in html and 'target="_blank"' in html
