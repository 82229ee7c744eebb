from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse

# The home page's live demonstration: where order keys land on the Amazon story's topic.
DEMO_TOPIC = "order-placed"
DEMO_PARTITIONS = 3
DEMO_KEYS = tuple(f"order-{n}" for n in range(1, 7))


def partition_demo(keys=DEMO_KEYS, partitions: int = DEMO_PARTITIONS) -> dict:
    """Each key's murmur2 hash and partition, plus the keys grouped by partition."""
    from broker_core.partitioner import key_hash, partition_for_key

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
    from broker_core import Cluster

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
    # Imported here, not at module level: the model is loaded only when a page needs it.
    import broker_core
    from broker_core.assignors import ASSIGNORS

    context = {
        "scenarios": gallery(),
        "command_types": list(broker_core.COMMAND_TYPES.items()),
        "assignors": list(ASSIGNORS),
        "demo": partition_demo(),
        "services": services_demo(),
    }
    return render(request, "playground/home.html", context)


def gallery() -> list[dict]:
    """The library's scenarios as the gallery lists them, built-ins first (see
    playground.library.api.gallery): slug (and name, the same), title, description, teaches,
    builtin, url (/s/<slug>)."""
    from playground.library.api import gallery as library_gallery

    return library_gallery()


SCENARIO_META_KEYS = ("name", "title", "description", "teaches")


async def open_scenario(request: HttpRequest, name: str) -> HttpResponse:
    """A fresh room running built-in scenario `name`, then off to it (302 to /r/<id>).

    Async so that, under Daphne, rooms are created on the event loop their runners use: making
    room may put another to sleep, which must not race that room's tick from another thread.
    """
    from broker_core.scenarios import UnknownScenario, load_builtin
    from playground.rooms.registry import RoomsFull, get_rooms

    try:
        spec = load_builtin(name)
    except UnknownScenario:
        raise Http404(f"no built-in scenario named {name!r}") from None
    meta = {key: spec.get(key) or "" for key in SCENARIO_META_KEYS}
    meta["name"] = meta["name"] or name
    try:
        room = get_rooms().create(spec, meta=meta)
    except RoomsFull as e:
        return HttpResponse(f"{e}; try again in a few minutes.", status=503,
                            content_type="text/plain; charset=utf-8", headers={"Retry-After": "60"})
    return HttpResponseRedirect(reverse("room", args=[room.id]))


def room_page(request: HttpRequest, room_id: str) -> HttpResponse:
    """The room's page; its live state comes over the WebSocket, this is the frame around it."""
    from playground.rooms.registry import get_rooms

    scenario = get_rooms().info(room_id)
    if scenario is None:
        raise Http404("no such room (it may have expired)")
    ws_path = f"/ws/rooms/{room_id}/"
    bootstrap = {"room_id": room_id, "ws_path": ws_path, "scenario": scenario}
    context = {**bootstrap, "bootstrap": bootstrap}
    return render(request, "playground/room.html", context)


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})
