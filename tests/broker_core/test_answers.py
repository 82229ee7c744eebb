"""Commands answer (Cluster.request): what a client would get back comes with the events, never
scraped from them, and answers change nothing a replay sees."""

import copy

from broker_core import Cluster

from .test_classic import join_cmd
from .test_clients import batch


def cluster() -> Cluster:
    c = Cluster(seed=3, brokers=3, config={"replica.fetch.interval.ms": 5})
    c.apply({"type": "topic.create", "name": "t", "partitions": 3, "replication_factor": 3})
    return c


def test_a_produce_answers_with_the_partition_and_offset_its_key_chose():
    c = cluster()
    events, answer = c.request({"type": "produce", "topic": "t", "key": "order-7", "value": "v"})
    produced = next(e for e in events if e["type"] == "record.produced")
    assert answer == {"topic": "t", "partition": produced["partition"],
                      "base_offset": produced["offset"], "last_offset": produced["offset"]}
    _, again = c.request({"type": "produce", "topic": "t", "key": "order-7", "value": "w"})
    assert again["partition"] == answer["partition"]
    assert again["base_offset"] == answer["base_offset"] + 1


def test_a_failed_produce_answers_with_kafkas_error():
    c = cluster()
    c.apply({"type": "topic.alter_config", "name": "t", "config": {"max.message.bytes": 10}})
    events, answer = c.request({"type": "produce", "topic": "t", "partition": 1,
                                "value": "x" * 50, "acks": "1", "retries": 0})
    failed = next(e for e in events if e["type"] == "produce.failed")
    assert answer == {"topic": "t", "partition": 1, "error": "MESSAGE_TOO_LARGE",
                      "message": failed["message"]}


def test_a_clients_batch_answers_offsets_duplicates_and_refusals():
    c = cluster()
    _, ids = c.request({"type": "producer.init_id", "client": "app@127.0.0.1:5000"})
    assert ids == {"producer_id": 0, "producer_epoch": 0}
    seq = {"producer_id": 0, "producer_epoch": 0, "base_sequence": 0}
    _, first = c.request(batch(partition=2, acks="1", **seq))
    assert first["base_offset"] == 0 and first["last_offset"] == 1
    assert first["log_start_offset"] == 0 and "error" not in first
    _, dup = c.request(batch(partition=2, acks="1", **seq))
    assert dup["deduplicated"] and (dup["base_offset"], dup["last_offset"]) == (0, 1)
    _, gap = c.request(batch(partition=2, acks="1", **{**seq, "base_sequence": 7}))
    assert gap["error"] == "OUT_OF_ORDER_SEQUENCE_NUMBER" and "expected sequence 2" in \
        gap["message"]
    _, bumped = c.request({"type": "producer.init_id", "client": "app@127.0.0.1:5000",
                           "producer_id": 0, "producer_epoch": 0})
    assert bumped == {"producer_id": 0, "producer_epoch": 1}


def test_a_join_answers_the_member_id_and_whether_it_must_join_again():
    c = cluster()
    _, pending = c.request(join_cmd(v4=True))
    assert pending["pending"] and pending["member_id"].startswith("py-")
    _, joined = c.request(join_cmd(member_id=pending["member_id"]))
    assert joined == {"member_id": pending["member_id"], "pending": False}
    _, old = c.request(join_cmd(client_id="old", v4=False))
    assert not old["pending"] and old["member_id"].startswith("old-")


def test_answers_leave_the_events_and_the_command_log_as_apply_makes_them():
    commands = [{"type": "produce", "topic": "t", "key": f"k{i}", "value": "v"}
                for i in range(5)] + [join_cmd(v4=False)]
    a, b = cluster(), cluster()
    by_apply = [a.apply(copy.deepcopy(cmd)) for cmd in commands]
    by_request = [b.request(copy.deepcopy(cmd))[0] for cmd in commands]
    assert by_apply == by_request
    assert a.command_log == b.command_log
    assert a.advance(10_000) == b.advance(10_000)


def test_a_long_advance_streams_its_events_to_a_sink_in_bounded_lists():
    def busy() -> Cluster:
        c = cluster()
        c.apply({"type": "consumer.add", "group": "g", "topics": ["t"]})
        c.apply({"type": "producer.add", "id": "p", "topic": "t", "rate_per_s": 500})
        return c

    whole = busy().advance(60_000)
    streamed, lists = [], []
    c = busy()
    assert c.advance(60_000, sink=lambda events: (lists.append(len(events)),
                                                   streamed.extend(events))) == []
    assert streamed == whole
    assert len(lists) > 3 and max(lists) < 20_000  # about STREAM_EVENTS, whole instants
    assert c.now_ms == 60_000 + busy().now_ms
