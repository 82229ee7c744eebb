"""One replica's copy of a partition log.

Offsets are dense: the record at offset ``o`` lives at index ``o - base`` of parallel columns
(keys, values, timestamps). Columns rather than a record object each keep a retained record to
the value it carries plus a few pointers, which is what lets a room hold a million records.
Retention moves ``start_offset`` forward; the columns are trimmed from the front only once
enough of them is dead, so deleting old records is amortised O(1).

Leader epochs are kept as Kafka keeps them in ``leader-epoch-checkpoint``: a short list of
(epoch, first offset written in that epoch), not a number per record.
"""

from array import array

_TRIM_MIN = 4096


def record_size(key, value, headers) -> int:
    """Bytes a record counts for under ``retention.bytes`` and ``max.message.bytes``."""
    size = 0
    if key is not None:
        size += len(key) if key.isascii() else len(key.encode("utf-8"))
    if value is not None:
        size += len(value) if value.isascii() else len(value.encode("utf-8"))
    if headers:
        for name, hvalue in headers.items():
            size += len(name.encode("utf-8"))
            if hvalue is not None:
                size += len(str(hvalue).encode("utf-8"))
    return size


class Log:
    __slots__ = ("base", "start_offset", "keys", "values", "timestamps", "headers",
                 "size_bytes", "epochs", "epoch")

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

    @property
    def end_offset(self) -> int:
        return self.base + len(self.values)

    def __len__(self) -> int:
        return self.base + len(self.values) - self.start_offset

    def append(self, key, value, headers, timestamp_ms: int, size: int, epoch: int) -> int:
        values = self.values
        offset = self.base + len(values)
        if epoch != self.epoch:
            self.epochs.append((epoch, offset))
            self.epoch = epoch
        self.keys.append(key)
        values.append(value)
        self.timestamps.append(timestamp_ms)
        if headers:
            self.headers[offset] = headers
        self.size_bytes += size
        return offset

    def copy_from(self, other: "Log", start: int, end: int) -> None:
        """Append other's records [start, end) (a follower fetching from its leader)."""
        assert other.start_offset <= start == self.end_offset, (start, other.start_offset)
        lo, hi = start - other.base, end - other.base
        for epoch, first in other.epochs:
            if first < end and epoch != self.epoch:
                # the first offset of this epoch that this copy holds
                self.epochs.append((epoch, max(first, start)))
                self.epoch = epoch
        self.keys.extend(other.keys[lo:hi])
        self.values.extend(other.values[lo:hi])
        self.timestamps.extend(other.timestamps[lo:hi])
        for offset in range(start, end):
            headers = other.headers.get(offset) if other.headers else None
            if headers:
                self.headers[offset] = headers
        self.size_bytes += sum(record_size(other.keys[i], other.values[i],
                                           other.headers.get(other.base + i))
                               for i in range(lo, hi))

    def restart_at(self, offset: int) -> None:
        """Drop everything and continue empty from `offset` (a follower whose next offset the
        leader no longer holds)."""
        self.base = self.start_offset = offset
        self.keys, self.values, self.timestamps = [], [], array("q")
        self.headers, self.size_bytes = {}, 0
        self.epochs, self.epoch = [], -1

    def record(self, offset: int) -> dict:
        i = offset - self.base
        return {"offset": offset, "key": self.keys[i], "value": self.values[i],
                "timestamp_ms": self.timestamps[i], "headers": self.headers.get(offset)}

    def key_at(self, offset: int):
        return self.keys[offset - self.base]

    def timestamp_at(self, offset: int) -> int:
        return self.timestamps[offset - self.base]

    def size_at(self, offset: int) -> int:
        i = offset - self.base
        return record_size(self.keys[i], self.values[i], self.headers.get(offset))

    def delete_before(self, offset: int) -> int:
        """Advance the log start to `offset` (retention); return how many records went."""
        offset = min(offset, self.end_offset)
        gone = offset - self.start_offset
        if gone <= 0:
            return 0
        for o in range(self.start_offset, offset):
            self.size_bytes -= self.size_at(o)
            if self.headers:
                self.headers.pop(o, None)
        self.start_offset = offset
        dead = offset - self.base
        if dead >= _TRIM_MIN and dead * 2 >= len(self.values):
            del self.keys[:dead]
            del self.values[:dead]
            del self.timestamps[:dead]
            self.base = offset
        return gone
