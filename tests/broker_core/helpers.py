"""Small builders shared by the broker_core tests."""

from broker_core import Cluster
from broker_core.checkers import EventChecker


def cluster_with_topic(name="order-placed", partitions=3, rf=1, brokers=3, seed=7,
                       config=None) -> Cluster:
    cluster = Cluster(seed=seed, brokers=brokers)
    cluster.apply({"type": "topic.create", "name": name, "partitions": partitions,
                   "replication_factor": rf, "config": config or {}})
    return cluster


def of_type(events, kind):
    return [e for e in events if e["type"] == kind]


class Recorder:
    """Runs a cluster while feeding every event to the invariant checker."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.events: list[dict] = []
        self.checker = EventChecker()
        # Events already taken from the cluster before recording started.
        self.checker.last_seq = cluster.seq - len(cluster.events)

    def _keep(self, events):
        self.checker.feed(events)
        self.events += events
        return events

    def apply(self, command):
        return self._keep(self.cluster.apply(command))

    def request(self, command):
        """apply(), and the command's answer."""
        events, answer = self.cluster.request(command)
        self._keep(events)
        return answer

    def advance(self, ms):
        return self._keep(self.cluster.advance(ms))

    def of_type(self, kind):
        return of_type(self.events, kind)
