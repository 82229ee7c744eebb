"""Topics, partitions and their replicas.

A partition has an ordered replica list (the preferred leader first), a leader, an in-sync
replica set and one `Log` per replica. The leader's log takes appends; followers copy from it
in virtual time. The high watermark is the lowest log end offset across the ISR: with one
replica it moves at every append, with more it moves when followers have fetched, and consumers
only ever read below it.

Replica placement is Kafka's rack-unaware assignment (``AdminUtils.assignReplicasToBrokers`` in
the ZooKeeper-era code): partition p's first replica is broker ``(p + start) % n``; the others
follow at a shift that grows by one every n partitions, so leaders and followers spread evenly.
`start` and the first shift are drawn from the cluster's seed when a topic is created.
"""

from .log import Log


def assign_replicas(brokers: list[int], partitions: int, replication_factor: int,
                    start_index: int, replica_shift: int, first_partition: int = 0
                    ) -> list[list[int]]:
    n = len(brokers)
    out = []
    shift = replica_shift
    for p in range(first_partition, first_partition + partitions):
        if p > 0 and p % n == 0:
            shift += 1
        first = (p + start_index) % n
        replicas = [brokers[first]]
        for j in range(replication_factor - 1):
            replicas.append(brokers[(first + 1 + (shift + j) % (n - 1)) % n])
        out.append(replicas)
    return out


class Partition:
    __slots__ = ("topic", "index", "replicas", "leader", "leader_epoch", "isr", "logs",
                 "high_watermark", "awaiting_ack", "watchers", "fetch_timers",
                 "retention_timer", "leader_log", "online", "caught_up", "last_fetch",
                 "isr_timer", "retention_epoch")

    def __init__(self, topic: "Topic", index: int, replicas: list[int]):
        self.topic = topic
        self.index = index
        self.replicas = replicas
        self.leader: int | None = replicas[0]
        self.leader_epoch = 0
        self.isr = list(replicas)
        self.logs = {b: Log() for b in replicas}
        self.leader_log = self.logs[self.leader]
        self.leader_log.start_epoch(0)
        self.high_watermark = 0
        # acks=all records waiting for the high watermark
        # (offset, producer, idempotent, retries left, first sent at, why), by offset
        self.awaiting_ack: list[tuple] = []
        # consumers (group members) that own this partition and want to hear of new data
        self.watchers: list = []
        self.fetch_timers: dict = {}
        self.retention_timer = None
        # The leader epoch in which the retention pass was last put where the oldest record
        # asks (None: look again at the next append; see producing._after_appends).
        self.retention_epoch = None
        self.online = True  # has a leader, and the leader's broker is running
        # follower -> last time it was known to hold everything the leader had; absent or
        # None while it is caught up continuously (see replication.py)
        self.caught_up: dict = {}
        self.last_fetch: dict = {}  # follower -> (time of its last fetch, leader's end then)
        self.isr_timer = None

    @property
    def name(self) -> str:
        return self.topic.name

    def follower_ids(self) -> list[int]:
        return [b for b in self.replicas if b != self.leader]

    def isr_high_watermark(self) -> int:
        return min(self.logs[b].end_offset for b in self.isr)

    def epoch_start_offset(self) -> int:
        """Where the current leader's epoch began in its log (a follower must reach it to
        rejoin the ISR)."""
        epochs = self.leader_log.epochs
        if epochs and epochs[-1][0] == self.leader_epoch:
            return epochs[-1][1]
        return self.leader_log.end_offset

    def state(self) -> dict:
        log = self.leader_log
        return {
            "partition": self.index,
            "leader": self.leader,
            "preferred_leader": self.replicas[0],
            "online": self.online,
            "leader_epoch": self.leader_epoch,
            "replicas": list(self.replicas),
            "isr": list(self.isr),
            "log_start_offset": log.start_offset,
            "log_end_offset": log.end_offset,
            "high_watermark": self.high_watermark,
            "size_bytes": log.size_bytes,
            "replica_log_end_offsets": {str(b): self.logs[b].end_offset for b in self.replicas},
        }


class Topic:
    __slots__ = ("name", "config", "partitions", "replication_factor", "topic_id")

    def __init__(self, name: str, config: dict, assignment: list[list[int]], topic_id: int):
        self.name = name
        self.config = config
        self.replication_factor = len(assignment[0])
        self.partitions = [Partition(self, i, list(r)) for i, r in enumerate(assignment)]
        self.topic_id = topic_id

    def add_partitions(self, assignment: list[list[int]]) -> None:
        first = len(self.partitions)
        self.partitions.extend(Partition(self, first + i, list(r))
                               for i, r in enumerate(assignment))

    def state(self) -> dict:
        return {
            "config": dict(self.config),
            "replication_factor": self.replication_factor,
            "partitions": [p.state() for p in self.partitions],
        }
