"""A deterministic model of a Kafka cluster: commands and virtual time in, events out.

    from broker_core import Cluster, CommandError
    cluster = Cluster(seed=7, brokers=3)
    events = cluster.apply({"type": "topic.create", "name": "order-placed", "partitions": 3})
    events += cluster.advance(1_000)
    cluster.snapshot()
    events, answer = cluster.request({"type": "produce", "topic": "order-placed", "key": "k",
                                      "value": "v"})   # answer: its partition and offset
    reads.records(cluster, "order-placed", answer["partition"], 0, 1 << 20)
"""

from . import reads
from .cluster import COMMAND_TYPES, Cluster
from .errors import CommandError

__all__ = ["COMMAND_TYPES", "Cluster", "CommandError", "reads"]
