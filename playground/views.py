"""The site's pages: home, /s/<slug> (open it in a fresh room) and its export, a room's page, the
health probe. The library's own views (import, the admin) are playground/library's."""

import json
from pathlib import Path
from urllib.parse import urlencode

import redis.exceptions
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse

import broker_core
from broker_core import Cluster
from broker_core.assignors import ASSIGNORS
from broker_core.partitioner import key_hash, partition_for_key
from broker_core.scenario import ScenarioError
from playground import health
from playground.clientaddr import request_client
from playground.library.api import gallery
from playground.links import document, namespace
from playground.links.namespace import find_scenario  # noqa: F401 (tests read it here)
from playground.presenter import apresenter_token
from playground.rooms.errors import NoSuchRoom, RoomsFull, TooManyRooms
from playground.rooms.page_defaults import produce_defaults
from playground.rooms.registry import get_rooms

# The home page's live demonstration: where order keys land on the Amazon story's topic.
DEMO_TOPIC = "order-placed"
DEMO_PARTITIONS = 3
DEMO_KEYS = tuple(f"order-{n}" for n in range(1, 7))


def partition_demo(keys=DEMO_KEYS, partitions: int = DEMO_PARTITIONS) -> dict:
    """Each key's murmur2 hash and partition, plus the keys grouped by partition."""
    rows = [
        {"key": key, "hash": key_hash(key), "partition": partition_for_key(key, partitions)}
        for key in keys
    ]
    lanes = [
        {"partition": p, "keys": [row["key"] for row in rows if row["partition"] == p]}
        for p in range(partitions)
    ]
    return {"topic": DEMO_TOPIC, "partitions": partitions, "rows": rows, "lanes": lanes}


SERVICES = ("inventory", "seller", "notification", "invoice", "delivery")
SERVICE_CONSUMERS = (2, 1, 3, 2, 1)


def services_demo(orders: int = 6) -> dict:
    """Run the lecture's five services on order-placed in the model and say who did what.

    Each service is a consumer group; every group gets every order, and inside a group each
    partition (so each order) belongs to exactly one consumer. The run is deterministic: the
    same seed gives this same table on every load.
    """
    cluster = Cluster(seed=7, brokers=3)
    cluster.apply({"type": "topic.create", "name": DEMO_TOPIC, "partitions": DEMO_PARTITIONS})
    for service, count in zip(SERVICES, SERVICE_CONSUMERS, strict=True):
        for _ in range(count):
            cluster.apply({"type": "consumer.add", "group": service, "topics": [DEMO_TOPIC],
                           "processing_ms": 20})
    events = cluster.advance(10_000)  # past the first rebalance: every group is Stable
    for n in range(1, orders + 1):
        events += cluster.apply({"type": "produce", "topic": DEMO_TOPIC, "key": f"order-{n}",
                                 "value": f"order {n} placed"})
    events += cluster.advance(10_000)
    partition_of = {}
    for e in events:
        if e["type"] == "record.produced":
            partition_of[(e["partition"], e["offset"])] = e["key"]
    snapshot = cluster.snapshot()
    groups = []
    for service in SERVICES:
        group = snapshot["groups"][service]
        consumers = []
        for consumer, partitions in group["members"].items():
            done = [partition_of[(e["partition"], e["offset"])] for e in events
                    if e["type"] == "record.processed" and e["group"] == service
                    and e["consumer"] == consumer]
            consumers.append({"id": consumer, "partitions": [p for _, p in partitions],
                              "orders": done})
        groups.append({"id": service, "state": group["state"], "consumers": consumers})
    return {"topic": DEMO_TOPIC, "orders": orders, "groups": groups,
            "virtual_ms": cluster.now_ms, "events": len(events)}


def home(request: HttpRequest) -> HttpResponse:
    context = {
        "scenarios": gallery(),
        "command_types": list(broker_core.COMMAND_TYPES.items()),
        "assignors": list(ASSIGNORS),
        "demo": partition_demo(),
        "services": services_demo(),
    }
    return render(request, "playground/home.html", context)


def not_found(request: HttpRequest, detail: str = "") -> HttpResponse:
    """The site's own 404 page (templates/404.html), status 404, in every mode. Raising Http404
    gives it only with DEBUG off: with DEBUG on (`make run`), Django answers Http404 with its
    technical page, and a learner who followed a stale /s/ or /r/ link saw a URL-pattern dump
    instead of the way back to the gallery."""
    return render(request, "404.html", {"detail": detail}, status=404)


def _embed(request: HttpRequest) -> bool:
    return request.GET.get("embed") == "1"


async def _presenter(request: HttpRequest) -> str | None:
    """The presenter a new room gets: this browser's token (playground/presenter.py), made
    with its session cookie if it has none. None -- a room open to everyone -- for an embedded
    view opened without a session cookie: inside a course page's iframe the browser does not
    send a cookie set there (SameSite=Lax), so no one could ever drive that room. Its id is known
    only to that frame, so open is the student's own room, not someone else's."""
    if _embed(request) and settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return None
    return await apresenter_token(request.session)


def _redis_errors() -> tuple[type[BaseException], ...]:
    """What the rooms' Redis (leases, the channel layer) raises when it cannot be reached.
    redis-py wraps the socket's errors (refused, reset, timed out, no such host) in these two;
    a bare OSError is left alone on purpose: the store raises it too (a full disk), and that
    is not a Redis outage."""
    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


REDIS_RETRY_S = 10


def redis_unreachable() -> HttpResponse:
    """A clear 503 while Redis is away: the room cannot be placed (its lease) or found, and
    the page says so instead of a server error; Retry-After lets a browser or client wait."""
    return HttpResponse("The room service's Redis is unreachable; try again shortly.",
                        status=503, content_type="text/plain; charset=utf-8",
                        headers={"Retry-After": str(REDIS_RETRY_S)})


def too_many_rooms(request: HttpRequest, wait_s: float) -> HttpResponse:
    retry = max(1, round(wait_s))
    response = render(request, "playground/too_many_rooms.html", {"retry_s": retry},
                      status=429)
    response["Retry-After"] = str(retry)
    return response


def rooms_per_address(e) -> HttpResponse:
    """429: this address may not make or wake another room now (the message names the limit)."""
    retry = max(1, round(e.wait_s)) if e.wait_s else 60
    return HttpResponse(f"{e}", status=429, content_type="text/plain; charset=utf-8",
                        headers={"Retry-After": str(retry)})


async def open_scenario(request: HttpRequest, name: str) -> HttpResponse:
    """A fresh room from scenario or recording `name`, then off to it (302 to /r/<id>,
    keeping ?embed=1, ?view= and ?projector=1). The requesting session is the new room's
    presenter.

    Async so that, under Daphne, rooms are created on the event loop their runners use: making
    room may put another to sleep, which must not race that room's tick from another thread.
    """
    found = await sync_to_async(namespace.resolve)(name)
    if found is None:
        return not_found(request, f"There is no scenario or shared recording at /s/{name}.")
    rooms = get_rooms()
    # The real client behind a trusted proxy (playground/clientaddr.py), not the proxy.
    client = request_client(request)
    wait_s = rooms.allow_creation(client)
    if wait_s:
        return too_many_rooms(request, wait_s)
    owner = await _presenter(request)
    kind, source = found
    try:
        if kind == "scenario":
            room = rooms.create(source["spec"], seed=source["seed"], meta=source["meta"],
                                owner=owner, client=client)
        else:
            room = rooms.create_replay(source, owner=owner, client=client)
    except TooManyRooms as e:
        return rooms_per_address(e)
    except RoomsFull as e:
        return HttpResponse(f"{e}; try again in a few minutes.", status=503,
                            content_type="text/plain; charset=utf-8", headers={"Retry-After": "60"})
    except ScenarioError as e:
        # A stored scenario that today's model refuses (it changed since): say what, plainly.
        return HttpResponse(f"/s/{name} cannot be opened: {e}", status=409,
                            content_type="text/plain; charset=utf-8")
    try:
        # With Redis, persisting also takes the room's lease there.
        await rooms.persist(room.id)
    except _redis_errors():
        # Nobody knows this room's id and nothing of it is stored: drop it rather than let it
        # hold one of the server's room slots until the idle sweep.
        rooms.awake.pop(room.id, None)
        return redis_unreachable()
    url = reverse("room", args=[room.id])
    return HttpResponseRedirect(url + _page_query(request))


# What /s/<name>?… passes on to the room's page: the embedded frame, and how the page draws
# (static/playground/view.js: the cluster by topics or by brokers, projector mode). Anything
# else, or another value, is left behind.
PAGE_QUERY = {"embed": ("1",), "view": ("topics", "brokers"), "projector": ("1",)}


def _page_query(request: HttpRequest) -> str:
    kept = {k: request.GET[k] for k, allowed in PAGE_QUERY.items() if request.GET.get(k) in allowed}
    return f"?{urlencode(kept)}" if kept else ""


def export(request: HttpRequest, slug: str) -> HttpResponse:
    """``/s/<slug>/export``: the document of the scenario or recording at /s/<slug>, as a
    download (playground/links/document.py)."""
    found = document.export(slug)
    if found is None:
        return not_found(request, f"There is no scenario or shared recording at /s/{slug}.")
    body = json.dumps(found, indent=2, ensure_ascii=False) + "\n"
    return HttpResponse(body, content_type="application/json; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{slug}.json"'})


async def room_page(request: HttpRequest, room_id: str) -> HttpResponse:
    """The room's page; its live state comes over the WebSocket, this is the frame around it.
    Opening it wakes the room (a restarted server rebuilds it here by replay)."""
    try:
        # Waking a stored room costs what creating one costs: the client's allowance.
        page = await get_rooms().page(room_id, client=request_client(request))
    except NoSuchRoom:
        return not_found(request, f"There is no room {room_id}: it may have expired.")
    except TooManyRooms as e:
        return rooms_per_address(e)
    except _redis_errors():
        # Where the room runs is in Redis (its lease): without it, it cannot be found. Before
        # RoomsFull: the registry's "Redis unreachable" (errors.LayerUnavailable) is both.
        return redis_unreachable()
    except RoomsFull as e:
        return HttpResponse(f"{e}; try again in a few minutes.", status=503,
                            content_type="text/plain; charset=utf-8", headers={"Retry-After": "60"})
    ws_path = f"/ws/rooms/{room_id}/"
    # Every visitor gets a presenter token with the page: whoever forks from it presents the
    # fork (the socket reads the token from the session this cookie names).
    await _presenter(request)
    embed = _embed(request)
    bootstrap = {"room_id": room_id, "ws_path": ws_path, "scenario": page["scenario"],
                 "embed": embed, "replay": page["replay"],
                 # The scenario's own first record for the produce form (room.html), and the
                 # order the page draws topics and groups in: the order they were made.
                 "produce_defaults": page.get("produce_defaults") or produce_defaults(None),
                 "topic_order": page.get("topic_order") or [],
                 "group_order": page.get("group_order") or []}
    context = {**bootstrap, "bootstrap": bootstrap}
    response = render(request, "playground/room.html", context)
    if embed:
        # The embedded view is for course pages, in their iframes: X-Frame-Options DENY (the
        # site's default, kept for every other page) made the browser refuse to show it.
        response.xframe_options_exempt = True
    return response


async def healthz(request: HttpRequest) -> JsonResponse:
    """The database, Redis and the event loop's lag (playground/health.py): 200 when all are
    fine, else 503, with each check's ok and detail. Async, so the lag it reports is the loop
    that serves the pages and sockets, and no check holds that loop up."""
    report = await health.report()
    response = JsonResponse(report, status=200 if report["ok"] else 503)
    response["Cache-Control"] = "no-store"  # a proxy must never answer a probe from its cache
    return response


# -- /compatibility ------------------------------------------------------------------------------

# Written by `make conformance` (conformance/run.py) beside docs/COMPATIBILITY.md.
COMPATIBILITY_CARD = Path(settings.BASE_DIR) / "docs" / "compatibility.json"
_card_cache: dict = {}


def _card() -> dict | None:
    """The card, read again only when the file changed."""
    try:
        mtime = COMPATIBILITY_CARD.stat().st_mtime_ns
    except OSError:
        return None
    if _card_cache.get("mtime") != mtime:
        try:
            card = json.loads(COMPATIBILITY_CARD.read_text())
        except (OSError, ValueError):
            return None
        _card_cache.update(mtime=mtime, card=card)
    return _card_cache["card"]


def compatibility(request: HttpRequest) -> HttpResponse:
    """Which Kafka clients do what against the playground, as `make conformance` last found
    it comparing each with Apache Kafka: client x check, works / differs on purpose / not yet."""
    card = _card()
    rows = []
    if card is not None:
        cells = {(c["client"], c["check"]): c for c in card["cells"]}
        for check in card["checks"]:
            rows.append({"check": check, "parts": check.split("."), "cells": [
                cells.get((client["id"], check)) for client in card["clients"]]})
    return render(request, "playground/compatibility.html", {"card": card, "rows": rows})
