"""A member's delivery attempt moves only as broker_core.group.PHASE_MOVES allows: a busy run
with retries, back-offs, forwards and acknowledgements makes only allowed moves (else Member.move
raises), and a move outside the table is refused, naming the member and the move."""

import pytest

from broker_core import Cluster
from broker_core.group import PHASE_MOVES, IllegalPhaseMove


def test_a_run_with_retries_and_sends_moves_only_as_the_table_allows():
    c = Cluster(seed=5, brokers=3)
    c.apply({"type": "topic.create", "name": "in", "partitions": 2, "replication_factor": 3})
    c.apply({"type": "topic.create", "name": "out", "partitions": 2, "replication_factor": 3})
    c.apply({"type": "group.configure", "group": "g", "max_attempts": 3})
    c.apply({"type": "consumer.add", "group": "g", "topics": ["in"], "failure_rate": 0.3,
             "processing_ms": 5, "emits": [{"topic": "out"}]})
    c.apply({"type": "producer.add", "id": "p", "topic": "in", "rate_per_s": 50})
    events = c.advance(30_000)
    kinds = {e["type"] for e in events}
    assert {"record.retry_scheduled", "record.processed"} <= kinds
    member = next(iter(c.groups["g"].members.values()))
    assert member.phase in PHASE_MOVES


def test_a_move_the_table_does_not_allow_is_refused():
    c = Cluster(seed=5, brokers=1)
    c.apply({"type": "topic.create", "name": "in", "partitions": 1})
    c.apply({"type": "consumer.add", "group": "g", "topics": ["in"]})
    member = next(iter(c.groups["g"].members.values()))
    assert member.phase is None
    with pytest.raises(IllegalPhaseMove, match="cannot go from None to acks"):
        member.move("acks")
    assert member.phase is None
    for phase, allowed in PHASE_MOVES.items():
        assert allowed <= set(PHASE_MOVES), phase  # every move lands on a known phase
