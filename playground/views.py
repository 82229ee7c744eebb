from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

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


def home(request: HttpRequest) -> HttpResponse:
    # Imported here, not at module level: the model is loaded only when a page needs it.
    import broker_core
    from broker_core.assignors import ASSIGNORS

    context = {
        "command_types": list(broker_core.COMMAND_TYPES.items()),
        "assignors": list(ASSIGNORS),
        "demo": partition_demo(),
    }
    return render(request, "playground/home.html", context)


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})
