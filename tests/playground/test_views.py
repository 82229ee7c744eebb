# broker_core is imported inside the tests that need its catalogue, so a missing name fails
# those tests, not the collection of this whole module.
import pytest

from playground.views import partition_demo

# The home page's gallery is the scenario library's rows.
pytestmark = pytest.mark.django_db

# Where Kafka's default partitioner puts order-1 … order-6 on 3 partitions. Computed with
# broker_core.partitioner, whose murmur2 is checked against Kafka's UtilsTest golden values
# (and again in test_partition_demo_uses_kafkas_murmur2 below).
EXPECTED_PARTITIONS = {
    "order-1": 1,
    "order-2": 0,
    "order-3": 0,
    "order-4": 2,
    "order-5": 2,
    "order-6": 0,
}


def test_home_explains_the_playground(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Kafka playground: learn how Kafka works by watching it</title>" in html
    assert "<h1>Learn how Kafka works by watching it</h1>" in html
    assert 'href="/static/playground.css"' in html


def test_home_lists_the_assignors(client):
    from broker_core.assignors import ASSIGNORS

    html = client.get("/").content.decode()
    for name in ("range", "roundrobin", "sticky", "cooperative-sticky"):
        assert f"<li><code>{name}</code></li>" in html
    for name in ASSIGNORS:
        assert f"<li><code>{name}</code></li>" in html


def test_home_lists_the_command_types(client):
    import broker_core

    html = client.get("/").content.decode()
    assert broker_core.COMMAND_TYPES, "broker_core.COMMAND_TYPES is empty"
    for command_type in ("topic.create", "produce", "consumer.add", "group.configure"):
        assert command_type in broker_core.COMMAND_TYPES
    for command_type in broker_core.COMMAND_TYPES:
        assert f"<dt><code>{command_type}</code></dt>" in html


def test_home_shows_where_each_order_key_lands(client):
    html = client.get("/").content.decode()
    for key, partition in EXPECTED_PARTITIONS.items():
        assert f'data-key="{key}" data-partition="{partition}"' in html
    lanes = html[html.index('id="demo-heading"'):html.index('id="services-heading"')]
    assert lanes.count('class="token"') == len(EXPECTED_PARTITIONS)


def test_partition_demo_uses_kafkas_murmur2():
    # Golden values from Kafka's clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java
    demo = partition_demo(keys=("21", "foobar", "abc"), partitions=3)
    assert [row["hash"] for row in demo["rows"]] == [-973932308, -790332482, 479470107]
    assert [row["partition"] for row in demo["rows"]] == [
        (h & 0x7FFFFFFF) % 3 for h in (-973932308, -790332482, 479470107)
    ]


def test_partition_demo_groups_keys_into_lanes():
    demo = partition_demo()
    assert demo["topic"] == "order-placed"
    assert [lane["partition"] for lane in demo["lanes"]] == [0, 1, 2]
    assert {key: lane["partition"] for lane in demo["lanes"] for key in lane["keys"]} == (
        EXPECTED_PARTITIONS
    )


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["ok"] is True and set(body["checks"]) == {"database", "redis", "event_loop"}


def test_services_demo_runs_the_model_five_groups_each_get_every_order():
    from playground.views import SERVICES, services_demo

    demo = services_demo(orders=6)
    assert [g["id"] for g in demo["groups"]] == list(SERVICES)
    for group in demo["groups"]:
        assert group["state"] == "Stable"
        processed = [key for c in group["consumers"] for key in c["orders"]]
        assert sorted(processed) == sorted(f"order-{n}" for n in range(1, 7)), group["id"]
        owned = [p for c in group["consumers"] for p in c["partitions"]]
        assert sorted(owned) == [0, 1, 2], group["id"]


def test_home_shows_the_services_run(client):
    html = client.get("/").content.decode()
    for service in ("inventory", "seller", "notification", "invoice", "delivery"):
        assert f'data-group="{service}"' in html
    assert 'data-consumer="notification-3"' in html
