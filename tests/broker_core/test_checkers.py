"""The invariant checkers themselves: each must fire on a stream or snapshot that breaks it.

Every seeded and Hypothesis run leans on these, so a checker that never fires would make those
runs prove nothing.
"""

import pytest

from broker_core.checkers import EventChecker, InvariantViolation, check_ownership, digest


def ev(seq, kind, **fields):
    return {"seq": seq, "t_ms": 0, "type": kind, **fields}


def assigned(seq, consumer, partition=0, group="g"):
    return ev(seq, "partition.assigned", group=group, consumer=consumer,
              partitions=[["t", partition]])


def produced(seq, offset, hw=None):
    return ev(seq, "record.produced", topic="t", partition=0, offset=offset,
              high_watermark=offset + 1 if hw is None else hw)


def delivered(seq, offset, consumer="c", group="g"):
    return ev(seq, "record.delivered", group=group, consumer=consumer, topic="t", partition=0,
              offset=offset, attempt=1)


def test_a_gap_within_one_ownership_is_caught():
    checker = EventChecker()
    checker.feed([produced(1, 0), produced(2, 1), produced(3, 2), assigned(4, "c"),
                  delivered(5, 0)])
    with pytest.raises(InvariantViolation, match="out of order"):
        checker.feed([delivered(6, 2)])


def test_offsets_that_are_not_dense_are_caught():
    with pytest.raises(InvariantViolation, match="not dense"):
        EventChecker().feed([produced(1, 1)])


def test_two_owners_of_one_partition_are_caught():
    with pytest.raises(InvariantViolation, match="still owns"):
        EventChecker().feed([assigned(1, "a"), assigned(2, "b")])


def test_a_delivery_to_a_non_owner_is_caught():
    with pytest.raises(InvariantViolation, match="owned by"):
        EventChecker().feed([produced(1, 0), assigned(2, "a"), delivered(3, 0, consumer="b")])


def test_reading_above_the_high_watermark_is_caught():
    checker = EventChecker()
    checker.feed([produced(1, 0, hw=0), assigned(2, "c")])
    with pytest.raises(InvariantViolation, match="high watermark"):
        checker.feed([delivered(3, 0)])


def test_a_new_owner_must_start_at_the_committed_offset():
    checker = EventChecker()
    checker.feed([produced(i + 1, i) for i in range(5)])
    checker.feed([ev(6, "offset.committed", group="g", consumer=None, topic="t", partition=0,
                     offset=2), assigned(7, "c")])
    with pytest.raises(InvariantViolation, match="committed offset 2"):
        checker.feed([delivered(8, 3)])


def test_sequence_numbers_and_time_must_move_forward():
    with pytest.raises(InvariantViolation, match="sequence jumped"):
        EventChecker().feed([ev(2, "x")])
    with pytest.raises(InvariantViolation, match="time went back"):
        EventChecker().feed([ev(1, "x"), {**ev(2, "x"), "t_ms": -1}])


def test_check_ownership_reports_unowned_and_dead_owners():
    snapshot = {"topics": {"t": {"partitions": [{"partition": 0}, {"partition": 1}]}},
                "groups": {"g": {"state": "Stable", "members": {"a": [["t", 0]]},
                                 "consumers": {"a": {"topics": ["t"], "status": "crashed"}}}}}
    assert check_ownership(snapshot) == ["g: t/1 has owners [], expected exactly one"]
    assert "crashed" in check_ownership(snapshot, require_live=True)[0]


def test_digest_sees_order_and_content():
    a, b = ev(1, "x"), ev(2, "y")
    assert digest([a, b]) == digest([dict(a), dict(b)])
    assert digest([a, b]) != digest([b, a])
    assert digest([a]) != digest([{**a, "t_ms": 1}])
