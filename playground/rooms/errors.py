"""What the rooms raise to their callers: every error a view, a socket or the Kafka listener may
catch from `registry.Rooms`, in one place.

Pages answer RoomsFull with a 503, NoSuchRoom with a 404 and TooManyRooms with a 429; sockets
close with the matching codes (playground/consumers.py). `LayerUnavailable` is a RoomsFull, so
a Redis outage reads as "try again shortly" wherever a full server does.
"""

import redis.exceptions


class RoomsFull(Exception):
    """Every room slot is taken by a room someone is watching."""


class NoSuchRoom(KeyError):
    pass


class TooManyRooms(Exception):
    """This client address may not make or wake another room now. `wait_s`: when it may
    (None: not until one of its rooms goes to sleep)."""

    def __init__(self, message: str, wait_s: float | None = None):
        super().__init__(message)
        self.wait_s = wait_s


class LayerUnavailable(RoomsFull, redis.exceptions.ConnectionError):
    """Redis (the leases, the channel layer) cannot be reached: where a room runs cannot be
    found or claimed, and calls to other processes cannot be carried. A RoomsFull, so pages say
    503 and sockets close with 4503 (try again shortly); also a redis ConnectionError, for code
    that catches Redis outages as such (views.redis_unreachable)."""

    def __init__(self, error: BaseException):
        super().__init__(f"the rooms' Redis is unreachable ({type(error).__name__}: {error}); "
                         "try again shortly")


class RoomHeldElsewhere(Exception):
    """Another live process holds this room's lease."""


class RoomUnreachable(Exception):
    """The room's host did not answer in time (busy, or died and its lease has not lapsed)."""
