"""APIs of Kafka 4 the playground does not model yet, answered as a Kafka 4 broker answers
when the feature is turned off, so that clients stop at once with a clear error instead of
waiting for an answer that never comes.

ConsumerGroupHeartbeat (KIP-848, `group.protocol=consumer`): Kafka answers UNSUPPORTED_VERSION
when its group coordinator does not enable the consumer protocol
(group.coordinator.rebalance.protocols); Java's consumer then fails with "The cluster does not
support the new CONSUMER group protocol", and librdkafka raises a fatal error. Not advertised,
librdkafka instead waited silently forever. kafka-python has no schema of this API, so the
answer is encoded here (the request itself is not read: every request gets the refusal).
"""

import struct

from .codec import compact_string, error_code
from .handlers import api

CONSUMER_PROTOCOL_OFF = ("the playground models the classic group protocol only: set "
                         "group.protocol=classic (KIP-848's consumer protocol is not "
                         "modelled yet)")


@api(68, 0, 1, raw=True)
async def consumer_group_heartbeat(conn, frame: bytes) -> bytes:
    # throttle_time_ms, error_code, error_message, member_id (null), member_epoch,
    # heartbeat_interval_ms, assignment (null struct: -1), no tagged fields
    return (struct.pack(">ih", 0, error_code("UNSUPPORTED_VERSION"))
            + compact_string(CONSUMER_PROTOCOL_OFF) + compact_string(None)
            + struct.pack(">iib", -1, 0, -1) + b"\x00")
