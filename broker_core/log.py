"""One replica's copy of a partition log.

Offsets are dense: the record at offset ``o`` lives at index ``o - base`` of parallel columns
(keys, values, timestamps). Columns rather than a record object each keep a retained record to
the value it carries plus a few pointers, which is what lets a room hold a million records.
Retention moves ``start_offset`` forward; the columns are trimmed from the front only once
enough of them is dead, so deleting old records is amortised O(1).

Leader epochs are kept as Kafka keeps them in ``leader-epoch-checkpoint``: a short list of
(epoch, first offset written in that epoch), not a number per record. They are what a replica
uses to find where its log and the leader's part ways (`divergence`), as Kafka's
OffsetsForLeaderEpoch does, so a returning replica truncates exactly what the leader never had.

Each record also keeps the acks its producer asked for (one byte): when a new leader lacks
records, whether they were acknowledged decides between `record.lost` and a producer retry.
"""

from array import array

ACKS_CODE = {"0": 0, "1": 1, "all": 2}
ACKS_NAME = {code: name for name, code in ACKS_CODE.items()}

_TRIM_MIN = 4096
# A record with no create time of its own (the model's and the page's producers write none:
# their timestamp is their model time); never a time a client can send (Kafka's NO_TIMESTAMP
# is -1).
NO_CREATE_TIME = -2**63


# How a host keeps bytes that are not UTF-8 text in the model's strings: this mark, then their
# base64 (playground/kafka/codec.py writes them for real clients' binary keys and values).
BYTES_MARK = "\x00b64:"


def _text_size(text: str) -> int:
    if not text.isascii():
        return len(text.encode("utf-8"))
    if text.startswith(BYTES_MARK):
        # What the bytes weigh on the wire, not their base64 (4/3 of it): a binary value of
        # 900 KB must fit max.message.bytes as it does in Kafka.
        b64 = text[len(BYTES_MARK):]
        return len(b64) * 3 // 4 - (b64[-2:].count("=") if len(b64) % 4 == 0 else 0)
    return len(text)


def header_pairs(headers) -> list:
    """A record's headers as (name, value) pairs. Headers are kept as an object of names to
    values, or, when a real client sent one name twice (Kafka keeps every header, in order),
    as a list of [name, value] pairs."""
    if not headers:
        return []
    return list(headers.items()) if isinstance(headers, dict) else [tuple(h) for h in headers]


def header_map(headers) -> dict:
    """A record's headers by name; of a name sent twice the last value, as Kafka's
    Headers.lastHeader reads it (what the delivery layer's own headers are read with)."""
    if not headers:
        return {}
    return headers if isinstance(headers, dict) else dict(header_pairs(headers))


def record_size(key, value, headers) -> int:
    """Bytes a record counts for under ``retention.bytes`` and ``max.message.bytes``."""
    size = 0
    if key is not None:
        size += _text_size(key)
    if value is not None:
        size += _text_size(value)
    if headers:
        for name, hvalue in header_pairs(headers):
            size += len(name.encode("utf-8"))
            if hvalue is not None:
                size += _text_size(str(hvalue))
    return size


class Log:
    __slots__ = ("base", "start_offset", "keys", "values", "timestamps", "headers",
                 "size_bytes", "epochs", "epoch", "acks", "sizes", "create_times")

    def __init__(self, start_offset: int = 0):
        self.base = start_offset
        self.start_offset = start_offset
        self.keys: list = []
        self.values: list = []
        self.timestamps = array("q")
        self.headers: dict[int, dict] = {}  # sparse: most records carry none
        self.size_bytes = 0
        self.epochs: list[tuple[int, int]] = []
        self.epoch = -1  # the epoch of the last entry in `epochs`
        self.acks = bytearray()  # ACKS_CODE of each record's producer
        # Each record's size: a follower's copy and retention then sum a slice in C.
        self.sizes = array("i")
        # Real clients' create times (Kafka's CreateTime, wall-clock ms as the client set
        # them), NO_CREATE_TIME for other records; None until the first such record, so a
        # log only the model writes to pays nothing for it.
        self.create_times = None

    @property
    def end_offset(self) -> int:
        return self.base + len(self.values)

    def __len__(self) -> int:
        return self.base + len(self.values) - self.start_offset

    def append(self, key, value, headers, timestamp_ms: int, size: int, epoch: int,
               acks: int = 2) -> int:
        """Append one record of the model's (a real client's come in batches: `extend`)."""
        values = self.values
        offset = self.base + len(values)
        if self.create_times is not None:
            self.create_times.append(NO_CREATE_TIME)
        if epoch != self.epoch:
            self.start_epoch(epoch)
        self.acks.append(acks)
        self.sizes.append(size)
        self.keys.append(key)
        values.append(value)
        self.timestamps.append(timestamp_ms)
        if headers:
            self.headers[offset] = headers
        self.size_bytes += size
        return offset

    def extend(self, keys: list, values: list, headers: dict | None, timestamp_ms: int,
               sizes: list, epoch: int, acks: int, create_times: list | None) -> int:
        """Append a batch, as `append` would each of its records in turn, one column at a
        time (C loops); the first one's offset. `headers`: {index in the batch: headers},
        or None when no record has any; `create_times` one per record, or None."""
        offset = self.end_offset
        n = len(values)
        if create_times is not None or self.create_times is not None:
            self._create_column().extend(
                create_times if create_times is not None else [NO_CREATE_TIME] * n)
        if epoch != self.epoch:
            self.start_epoch(epoch)
        self.acks.extend(bytes((acks,)) * n)
        self.sizes.extend(sizes)
        self.keys.extend(keys)
        self.values.extend(values)
        self.timestamps.extend(array("q", (timestamp_ms,)) * n)
        if headers:
            for i, h in headers.items():
                if h:
                    self.headers[offset + i] = h
        self.size_bytes += sum(sizes)
        return offset

    def copy_from(self, other: "Log", start: int, end: int) -> None:
        """Append other's records [start, end) (a follower fetching from its leader)."""
        assert other.start_offset <= start == self.end_offset, (start, other.start_offset)
        lo, hi = start - other.base, end - other.base
        entries = other.epochs
        for i, (epoch, first) in enumerate(entries):
            if first >= end:
                break
            following = entries[i + 1][1] if i + 1 < len(entries) else end
            if following > start and epoch > self.epoch:
                # An epoch with records in the copied range: it begins here at the first
                # offset of it this copy holds. The list stays strictly increasing.
                self.epochs.append((epoch, max(first, start)))
                self.epoch = epoch
        self.keys.extend(other.keys[lo:hi])
        self.acks.extend(other.acks[lo:hi])
        self.values.extend(other.values[lo:hi])
        self.timestamps.extend(other.timestamps[lo:hi])
        if other.create_times is not None:
            self._create_column().extend(other.create_times[lo:hi])
        elif self.create_times is not None:
            self.create_times.extend([NO_CREATE_TIME] * (hi - lo))
        for offset in range(start, end):
            headers = other.headers.get(offset) if other.headers else None
            if headers:
                self.headers[offset] = headers
        sizes = other.sizes[lo:hi]
        self.sizes.extend(sizes)
        self.size_bytes += sum(sizes)

    def restart_at(self, offset: int) -> None:
        """Drop everything and continue empty from `offset` (a follower whose next offset the
        leader no longer holds)."""
        self.base = self.start_offset = offset
        self.keys, self.values, self.timestamps = [], [], array("q")
        self.headers, self.size_bytes = {}, 0
        self.epochs, self.epoch = [], -1
        self.acks = bytearray()
        self.sizes = array("i")
        self.create_times = None

    def _create_column(self) -> array:
        if self.create_times is None:
            self.create_times = array("q", [NO_CREATE_TIME]) * len(self.values)
        return self.create_times

    def create_time_at(self, offset: int) -> int | None:
        """The client's own timestamp of the record at `offset`, or None (a model record)."""
        if self.create_times is None:
            return None
        t = self.create_times[offset - self.base]
        return None if t == NO_CREATE_TIME else t

    def start_epoch(self, epoch: int) -> None:
        """Note that `epoch` begins at the current log end (a leader does this when elected,
        before it has written anything in the new epoch)."""
        offset = self.end_offset
        if self.epochs and self.epochs[-1][1] == offset:
            self.epochs.pop()  # the previous epoch wrote nothing: Kafka's cache drops it too
        self.epochs.append((epoch, offset))
        self.epoch = epoch

    def epoch_at(self, offset: int) -> int:
        """The leader epoch in which the record at `offset` was written."""
        epoch = -1
        for e, first in self.epochs:  # a handful of entries: one per leader change
            if first > offset:
                break
            epoch = e
        return epoch

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """Kafka's OffsetsForLeaderEpoch answer: the largest epoch <= `epoch` this log knows
        and the offset where it ended here (the next epoch's first offset, or the log end)."""
        found = -1, -1
        for i, (e, _first) in enumerate(self.epochs):
            if e > epoch:
                break
            end = self.epochs[i + 1][1] if i + 1 < len(self.epochs) else self.end_offset
            found = e, end
        return found

    def divergence(self, leader: "Log") -> int:
        """The offset from which this log no longer matches `leader`: a follower truncates
        there before fetching. Found by leader epochs (KIP-101/KIP-279), never by comparing
        records."""
        if not self.epochs:
            return min(self.end_offset, leader.end_offset)
        epoch, leader_end = leader.end_offset_for_epoch(self.epoch)
        if epoch < 0:
            return min(self.start_offset, self.end_offset)
        if epoch < self.epoch:
            # The leader never saw our latest epoch: keep only what we wrote in `epoch`.
            _, own_end = self.end_offset_for_epoch(epoch)
            return min(leader_end, own_end, self.end_offset)
        return min(leader_end, self.end_offset)

    def truncate_to(self, offset: int) -> int:
        """Drop every record at or after `offset`; return how many went."""
        offset = max(offset, self.start_offset)
        gone = self.end_offset - offset
        if gone <= 0:
            return 0
        i = offset - self.base
        self.size_bytes -= sum(self.sizes[i:])
        if self.headers:
            for o in range(offset, self.end_offset):
                self.headers.pop(o, None)
        del self.keys[i:]
        del self.values[i:]
        del self.timestamps[i:]
        if self.create_times is not None:
            del self.create_times[i:]
        del self.acks[i:]
        del self.sizes[i:]
        while self.epochs and self.epochs[-1][1] >= offset:
            self.epochs.pop()
        self.epoch = self.epochs[-1][0] if self.epochs else -1
        return gone

    def record(self, offset: int) -> dict:
        i = offset - self.base
        return {"offset": offset, "key": self.keys[i], "value": self.values[i],
                "timestamp_ms": self.timestamps[i], "headers": self.headers.get(offset)}

    def key_at(self, offset: int):
        return self.keys[offset - self.base]

    def timestamp_at(self, offset: int) -> int:
        return self.timestamps[offset - self.base]

    def acks_at(self, offset: int) -> str:
        """The acks its producer asked for: "0", "1" or "all"."""
        return ACKS_NAME[self.acks[offset - self.base]]

    def size_at(self, offset: int) -> int:
        return self.sizes[offset - self.base]

    def delete_before(self, offset: int) -> int:
        """Advance the log start to `offset` (retention); return how many records went."""
        offset = min(offset, self.end_offset)
        gone = offset - self.start_offset
        if gone <= 0:
            return 0
        self.size_bytes -= sum(self.sizes[self.start_offset - self.base:offset - self.base])
        if self.headers:
            for o in range(self.start_offset, offset):
                self.headers.pop(o, None)
        self.start_offset = offset
        dead = offset - self.base
        if dead >= _TRIM_MIN and dead * 2 >= len(self.values):
            del self.keys[:dead]
            del self.values[:dead]
            del self.timestamps[:dead]
            if self.create_times is not None:
                del self.create_times[:dead]
            del self.acks[:dead]
            del self.sizes[:dead]
            self.base = offset
        return gone
