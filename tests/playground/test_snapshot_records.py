"""A snapshot carries each partition's newest records (playground/rooms/cells.py), so a page
that joins late, reloads or opens a fork draws the same cells as one that watched: the keys and
offsets of the leader's log, as many as a lane draws, within a byte budget whatever the room."""

import json
import re

from broker_core.scenarios import load_builtin
from playground.rooms import cells
from playground.rooms.room import run_to
from tests.conftest import ROOT
from tests.playground.rooms_support import busy_spec, clock, rooms  # noqa: F401


def snapshot_of(room) -> dict:
    text, seq = room._snapshot_message()
    message = json.loads(text)
    assert message["type"] == "snapshot" and message["seq"] == seq
    return message["state"]


def leader_log(room, topic: str, partition: int):
    return room.cluster.topics[topic].partitions[partition].leader_log


def test_the_snapshot_carries_each_partitions_newest_records_as_the_log_holds_them(rooms):  # noqa: F811
    room = rooms.create(busy_spec(rate_per_s=50, partitions=3))
    run_to(room.cluster, 5_000)  # 250 records over three partitions: more than a lane draws
    state = snapshot_of(room)
    for p in state["topics"]["orders"]["partitions"]:
        log = leader_log(room, "orders", p["partition"])
        assert log.end_offset > cells.CELLS_PER_PARTITION
        want = list(range(log.end_offset - cells.CELLS_PER_PARTITION, log.end_offset))
        assert [r["offset"] for r in p["records"]] == want  # the newest, oldest first
        for r in p["records"]:
            held = log.record(r["offset"])
            assert (r["key"], r["value"], r["timestamp_ms"]) == (
                held["key"], held["value"], held["timestamp_ms"])
            assert r["acks"] == "all"


def test_a_fresh_rooms_first_record_is_in_its_first_snapshot(rooms):  # noqa: F811
    # amazon-orders sends order-1 at 0 ms: before any page can connect. Its cell must not be
    # drawn hollow, "arrived before this page connected".
    room = rooms.create(load_builtin("amazon-orders"), meta={"name": "amazon-orders"})
    state = snapshot_of(room)
    carried = {(name, p["partition"]): [(r["offset"], r["key"]) for r in p["records"]]
               for name, t in state["topics"].items() for p in t["partitions"]}
    produced = {(name, p["partition"]): p["log_end_offset"]
                for name, t in state["topics"].items() for p in t["partitions"]}
    assert sum(produced.values()) >= 1
    for tp, leo in produced.items():
        log = leader_log(room, *tp)
        assert carried[tp] == [(o, log.key_at(o)) for o in range(leo)], tp


def test_values_and_headers_are_cut_to_a_preview_with_their_length_noted(rooms):  # noqa: F811
    room = rooms.create(busy_spec(rate_per_s=0.001, partitions=1))
    room.cluster.apply({"type": "produce", "topic": "orders", "key": "k" * 300,
                        "value": "v" * 5_000, "headers": {"trace": "t" * 500, "short": "ok"}})
    room.cluster.apply({"type": "produce", "topic": "orders", "key": "order-2", "value": "x",
                        "headers": {f"h{i:03}": "y" * 90 for i in range(40)}})
    records = snapshot_of(room)["topics"]["orders"]["partitions"][0]["records"]
    big, many = records[-2], records[-1]
    assert big["value"] == "v" * cells.VALUE_PREVIEW_CHARS
    assert big["value_truncated"] is True and big["value_chars"] == 5_000
    assert big["key"] == "k" * cells.KEY_CHARS_MAX and big["key_chars"] == 300
    assert big["headers"] == {"trace": "t" * cells.VALUE_PREVIEW_CHARS, "short": "ok"}
    assert many["key"] == "order-2" and "key_chars" not in many and "value_truncated" not in many
    assert "headers" not in many and many["headers_omitted"] == 40


def test_a_room_at_its_partition_quota_keeps_its_snapshot_records_under_the_budget(rooms):  # noqa: F811
    # The worst a room may hold (PLAYGROUND_ROOM_PARTITIONS_MAX = 300 partitions), every
    # record as big as a snapshot carries one: the records stay within RECORDS_BYTES_MAX and
    # every partition still gets its newest records first.
    spec = {"name": "wide", "title": "Wide", "brokers": 1, "timeline": [],
            "topics": [{"name": f"t{i}", "partitions": 100, "replication_factor": 1}
                       for i in range(3)]}
    room = rooms.create(spec)
    headers = {f"header-{i:02}": "h" * 40 for i in range(15)}
    for t in range(3):
        for p in range(100):
            for i in range(cells.CELLS_PER_PARTITION):
                room.cluster.apply({"type": "produce", "topic": f"t{t}", "partition": p,
                                    "key": f"key-{i}-" + "k" * 300, "value": "v" * 2_000,
                                    "headers": headers})
    state = snapshot_of(room)
    records = [r for t in state["topics"].values() for p in t["partitions"] for r in p["records"]]
    size = sum(len(json.dumps(r, separators=(",", ":"), ensure_ascii=False)) + 1
               for r in records)
    assert size <= cells.RECORDS_BYTES_MAX
    assert len(records) < 300 * cells.CELLS_PER_PARTITION  # the budget did bite
    depths = [len(p["records"]) for t in state["topics"].values() for p in t["partitions"]]
    assert min(depths) >= 1 and max(depths) - min(depths) <= 1  # filled a depth at a time
    for t in state["topics"].values():
        for p in t["partitions"]:
            assert p["records"][-1]["offset"] == p["log_end_offset"] - 1


def test_a_record_a_lagging_consumer_holds_is_carried_with_the_newest(rooms):  # noqa: F811
    spec = {**busy_spec(rate_per_s=100, partitions=1),
            "groups": [{"name": "slow", "topics": ["orders"], "consumers": [{}],
                        "consumer": {"processing_ms": 1_000}}]}
    room = rooms.create(spec)
    run_to(room.cluster, 8_000)
    state = snapshot_of(room)
    (member,) = state["groups"]["slow"]["consumers"].values()
    held = member["in_flight"]
    records = state["topics"]["orders"]["partitions"][0]["records"]
    leo = state["topics"]["orders"]["partitions"][0]["log_end_offset"]
    assert held["offset"] < leo - cells.CELLS_PER_PARTITION  # older than the newest cells
    offsets = [r["offset"] for r in records]
    assert offsets == [held["offset"], *range(leo - cells.CELLS_PER_PARTITION, leo)]


def test_the_snapshot_carries_as_many_records_as_a_page_lane_can_draw():
    # model.js keeps (and a lane draws at most) CELL_WINDOW * 2 cells per partition.
    source = (ROOT / "static" / "playground" / "model.js").read_text()
    window = int(re.search(r"export const CELL_WINDOW = (\d+);", source).group(1))
    assert cells.CELLS_PER_PARTITION == window * 2
