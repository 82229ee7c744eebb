"""A deterministic model of a Kafka cluster: commands and virtual time in, events out.

    from broker_core import Cluster, CommandError
    cluster = Cluster(seed=7, brokers=3)
    events = cluster.apply({"type": "topic.create", "name": "order-placed", "partitions": 3})
    events += cluster.advance(1_000)
    cluster.snapshot()
"""

from .cluster import COMMAND_TYPES, Cluster
from .errors import CommandError

__all__ = ["COMMAND_TYPES", "Cluster", "CommandError"]
