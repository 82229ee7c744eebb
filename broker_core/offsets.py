"""A group's committed offsets: the one thing both kinds of group keep alike.

A group of modelled consumers (group.py) and a group of real clients (classic.py) commit to the
same store, keyed by partition, as Kafka keeps one ``__consumer_offsets`` entry per group and
partition whoever commits it. So the page's lag reads the same for both, and a group that
changes hands between the two kinds (``classic.convert``) keeps its offsets: the new driver is
handed this object, not a copy.
"""


def sorted_parts(parts) -> list:
    """Partitions in (topic, index) order: the order every list of them is written in."""
    return sorted(parts, key=lambda p: (p.topic.name, p.index))


class Offsets:
    """Committed offsets and the metadata a client sent with them, for one group id."""

    __slots__ = ("cluster", "group_id", "committed", "metadata")

    def __init__(self, cluster, group_id: str):
        self.cluster = cluster
        self.group_id = group_id
        self.committed: dict = {}   # Partition -> next offset to read
        self.metadata: dict = {}    # Partition -> (metadata, leader epoch) a client sent

    def commit(self, consumer: str | None, part, offset: int, reason=None,
               metadata: tuple | None = None) -> None:
        """Commit `offset` for `part` (consumer None: from outside the group, a reset or a
        client that is no member) and say so: offset.committed. `metadata`: the (metadata,
        leader epoch) a real client sent with it."""
        if metadata is not None:
            self.metadata[part] = metadata
        self.committed[part] = offset
        cluster = self.cluster
        # A per-record event (a commit a record): to the cluster's sink, not a checked
        # constructor.
        cluster.out.offset_committed(cluster.next_seq(), cluster.clock.now_ms, self.group_id,
                                     consumer, part.topic.name, part.index, offset, reason)

    def reset(self, part, offset: int, reason: str) -> None:
        """An admin moved the offset (group.reset_offsets): a client's metadata goes with the
        old one."""
        self.metadata.pop(part, None)
        self.commit(None, part, offset, reason=reason)

    def delete(self, part) -> bool:
        """Forget `part`'s offset (OffsetDelete); whether one was committed."""
        self.metadata.pop(part, None)
        return self.committed.pop(part, None) is not None

    def forget(self, parts) -> None:
        """A topic was deleted: its partitions leave the offset table."""
        for part in parts:
            self.committed.pop(part, None)
            self.metadata.pop(part, None)

    def drop_sentinels(self) -> None:
        """A real client may have committed a negative offset (a sentinel of its own, such as
        kafkajs' -2 for "earliest"): modelled consumers start from auto_offset_reset there
        instead, so a group handed to them forgets those."""
        for part in [p for p, offset in self.committed.items() if offset < 0]:
            del self.committed[part]

    def start_position(self, part, auto_offset_reset: str) -> tuple[int, int | None]:
        """Where an owner starts reading `part`, and the committed offset it had to abandon
        (None unless that offset is gone: deleted by retention, Kafka's OFFSET_OUT_OF_RANGE
        answered by auto.offset.reset; or beyond a log a leader change cut back, where the
        consumer goes on from the new log end, KIP-320)."""
        committed = self.committed.get(part)
        log = part.leader_log
        if committed is not None and committed > log.end_offset:
            return log.end_offset, committed
        if committed is not None and log.start_offset <= committed:
            return committed, None
        earliest = auto_offset_reset == "earliest"
        position = log.start_offset if earliest else part.high_watermark
        return position, committed

    def lag_rows(self, subscribed, owners: dict, reading, auto_offset_reset: str) -> list[dict]:
        """One row per partition of every topic subscribed to or committed for: {"topic",
        "partition", "committed", "high_watermark", "lag", "owner"}. `owners`: Partition ->
        its owning member; `reading(owner, part)`: where that owner reads now, or None when
        the group cannot know (a crashed consumer, a real client): then lag counts from the
        committed offset, else from where a new owner would start."""
        topics = self.cluster.topics
        names = set(subscribed)
        names.update(p.topic.name for p in self.committed)
        rows = []
        for name in sorted(names):
            topic = topics.get(name)
            if topic is None:
                continue
            for part in topic.partitions:
                committed = self.committed.get(part)
                owner = owners.get(part)
                base = None
                if committed is not None and committed >= 0:
                    base = committed
                elif owner is not None:
                    base = reading(owner, part)
                if base is None:
                    base = self.start_position(part, auto_offset_reset)[0]
                rows.append({"topic": name, "partition": part.index, "committed": committed,
                             "high_watermark": part.high_watermark,
                             "lag": max(0, part.high_watermark - base),
                             "owner": owner.id if owner else None})
        return rows

    def fetch(self, wanted: list | None) -> list[dict]:
        """OffsetFetch: every committed offset (wanted None) or those asked for, as [topic,
        partition] pairs; -1 where nothing is committed."""
        committed = self.committed
        if wanted is None:
            wanted = [(p.topic.name, p.index) for p in sorted_parts(committed)]
        topics = self.cluster.topics
        rows = []
        for topic, index in wanted:
            t = topics.get(topic)
            part = t.partitions[index] if t is not None and 0 <= index < len(t.partitions) \
                else None
            offset = committed.get(part, -1) if part is not None else -1
            metadata, epoch = self.metadata.get(part, ("", -1)) if part is not None \
                else ("", -1)
            rows.append({"topic": topic, "partition": index, "offset": offset,
                         "metadata": metadata, "leader_epoch": epoch})
        return rows
