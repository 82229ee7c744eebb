"""What the playground does not model yet fails at once, with a clear error clients treat as
final: transactions (transactional.id) and KIP-848's consumer protocol
(group.protocol=consumer). Before, clients retried until their own timeouts (25-60 s) or
waited forever."""

import time

import pytest
from confluent_kafka import Consumer, KafkaException, Producer

from .conftest import Live


@pytest.fixture(scope="module")
def live():
    server = Live()
    server.apply({"type": "topic.create", "name": "t", "partitions": 1,
                  "replication_factor": 1})
    yield server
    server.close()


def test_a_transactional_producer_fails_at_once_with_the_reason(live):
    p = Producer({"bootstrap.servers": live.bootstrap, "transactional.id": "tx-1"})
    started = time.monotonic()
    with pytest.raises(KafkaException) as info:
        p.init_transactions(30)
    assert time.monotonic() - started < 5
    error = info.value.args[0]
    assert error.fatal() and error.name() == "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"


def test_kafka_pythons_transactional_producer_fails_at_once(live):
    from kafka import KafkaProducer
    from kafka.errors import TransactionalIdAuthorizationFailedError

    started = time.monotonic()
    p = KafkaProducer(bootstrap_servers=live.bootstrap, transactional_id="tx-2")
    try:
        with pytest.raises(TransactionalIdAuthorizationFailedError):
            p.init_transactions()
    finally:
        p.close(timeout=1)
    assert time.monotonic() - started < 10


def test_the_consumer_group_protocol_fails_at_once(live):
    c = Consumer({"bootstrap.servers": live.bootstrap, "group.id": "kip848",
                  "group.protocol": "consumer"})
    c.subscribe(["t"])
    started = time.monotonic()
    error = None
    try:
        while error is None and time.monotonic() - started < 10:
            m = c.poll(0.2)
            if m is not None and m.error():
                error = m.error()
    finally:
        c.close()
    assert error is not None and error.name() == "_FATAL"  # the consumer is done for
    assert "ConsumerGroupHeartbeat" in error.str()
