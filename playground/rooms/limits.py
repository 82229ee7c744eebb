"""Token buckets (the per-connection message limit and the per-address room-creation
limit) and per-address counts (sockets, Kafka connections)."""

import time
from collections import OrderedDict


class AddressCounts(dict):
    """How many of something (sockets, Kafka connections) each client address holds open;
    unknown addresses share the key "?". An address holding none has no entry."""

    def take(self, address: str | None, limit: int) -> bool:
        key = address or "?"
        if self.get(key, 0) >= limit:
            return False
        self[key] = self.get(key, 0) + 1
        return True

    def give_back(self, address: str | None) -> None:
        key = address or "?"
        left = self.get(key, 0) - 1
        if left > 0:
            self[key] = left
        else:
            self.pop(key, None)


class TokenBucket:
    """`rate_per_s` messages a second on average, bursts of up to `burst`."""

    def __init__(self, rate_per_s: float, burst: float, clock=time.monotonic):
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.clock = clock
        self.tokens = burst
        self.last_s = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last_s) * self.rate_per_s)
        self.last_s = now

    def take(self) -> bool:
        self._refill()
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def wait_s(self) -> float:
        """Seconds until the next token (0 when one is there)."""
        self._refill()
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate_per_s


class KeyedBuckets:
    """One bucket per key (a client address), the least recently used forgotten beyond
    `max_keys` so a flood of addresses cannot grow memory (a forgotten key starts full)."""

    def __init__(self, rate_per_s: float, burst: float, clock=time.monotonic,
                 max_keys: int = 10_000):
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self.buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def give_back(self, key: str) -> None:
        """Return a token taken for `key` whose work did not happen (a wake that failed)."""
        bucket = self.buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(bucket.burst, bucket.tokens + 1)

    def take(self, key: str) -> float:
        """Take a token for `key`: 0 if granted, else the seconds to wait."""
        bucket = self.buckets.pop(key, None) or TokenBucket(self.rate_per_s, self.burst,
                                                            self.clock)
        self.buckets[key] = bucket
        while len(self.buckets) > self.max_keys:
            self.buckets.popitem(last=False)
        if bucket.take():
            return 0.0
        return max(bucket.wait_s(), 0.001)
