"""Frames: bounded in count and bytes, covering their whole range, never a silent gap."""

import json

from playground.rooms.frames import MAX_FRAME_BYTES, MAX_FRAME_EVENTS, build_frame

CLOCK = {"now_ms": 5, "speed": 1.0, "playing": True}


def produced(seq, partition, offset, value="v"):
    return {"seq": seq, "t_ms": 5, "type": "record.produced", "topic": "t",
            "partition": partition, "offset": offset, "key": None, "value": value}


def stream(n, first_seq=1, value="v"):
    return [produced(first_seq + i, i % 3, i // 3, value) for i in range(n)]


def covered(frame) -> int:
    return len(frame["events"]) + sum(a["count"] for a in frame["aggregates"])


def test_a_small_range_goes_whole():
    text, to_seq, stats = build_frame(stream(10, first_seq=7), 7, CLOCK, wall_ms=123)
    frame = json.loads(text)
    assert (frame["from_seq"], frame["to_seq"], to_seq) == (7, 16, 16)
    assert [e["seq"] for e in frame["events"]] == list(range(7, 17))
    assert frame["aggregates"] == [] and frame["clock"] == CLOCK and frame["wall_ms"] == 123
    assert stats == {"sent": 10, "aggregated": 0}


def test_an_empty_frame_only_moves_the_clock():
    frame = json.loads(build_frame([], 42, CLOCK, wall_ms=0)[0])
    assert (frame["from_seq"], frame["to_seq"]) == (42, 41)
    assert frame["events"] == [] and frame["aggregates"] == []


def test_beyond_the_count_bound_the_rest_is_aggregated_per_partition():
    events = stream(3_000)
    events[2_500] = {"seq": 2_501, "t_ms": 5, "type": "group.rebalance_started",
                     "group": "g", "reason": "join"}
    frame = json.loads(build_frame(events, 1, CLOCK, wall_ms=0)[0])
    assert covered(frame) == 3_000
    assert len(frame["events"]) == MAX_FRAME_EVENTS
    # A structural event is never folded away, however late in a busy range.
    assert any(e["type"] == "group.rebalance_started" for e in frame["events"])
    aggs = {a["partition"]: a for a in frame["aggregates"]}
    assert set(aggs) == {0, 1, 2}
    for partition, agg in aggs.items():
        assert agg["aggregated"] is True and agg["type"] == "record.produced"
        assert agg["topic"] == "t"
        offsets = [e["offset"] for e in events[MAX_FRAME_EVENTS - 1:]
                   if e["type"] == "record.produced" and e["partition"] == partition
                   and e["seq"] not in {x["seq"] for x in frame["events"]}]
        assert (agg["first_offset"], agg["last_offset"], agg["count"]) == (
            offsets[0], offsets[-1], len(offsets))


def test_beyond_the_byte_bound_too():
    events = stream(400, value="x" * 5_000)  # 2 MB of values
    text, _, stats = build_frame(events, 1, CLOCK, wall_ms=0)
    assert len(text.encode()) <= MAX_FRAME_BYTES
    frame = json.loads(text)
    assert covered(frame) == 400 and frame["aggregates"]
    assert stats["sent"] == len(frame["events"]) < 400


def test_one_huge_value_is_cut_to_a_preview_not_dropped():
    events = [produced(1, 0, 0, value="y" * 500_000)]
    frame = json.loads(build_frame(events, 1, CLOCK, wall_ms=0)[0])
    [event] = frame["events"]
    assert event["value_truncated"] is True and event["value_chars"] == 500_000
    assert len(event["value"]) == 1_000


def test_the_rooms_shared_state_counts_against_the_byte_bound():
    events = stream(MAX_FRAME_EVENTS * 4, value="x" * 300)
    room = {"narration_step": 3, "viewers": 50,
            "figures": [{"index": i, "points": [[t, t] for t in range(2_000)]} for i in range(4)]}
    text, to_seq, _ = build_frame(events, 1, {"now_ms": 0}, 0, room=room)
    frame = json.loads(text)
    assert len(text.encode()) <= MAX_FRAME_BYTES
    assert frame["viewers"] == 50 and frame["figures"] == room["figures"]
    assert covered(frame) == to_seq == len(events)  # what did not fit whole is aggregated
