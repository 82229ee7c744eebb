"""One async function per Kafka API, and the dispatch table the server reads.

Registering an API is one decorator: ``@api(KEY, MIN_VERSION, MAX_VERSION)`` on
``async def handler(conn, request) -> dict``. `conn` is the server's Connection (the room, the
broker this connection reached, the client's id and address, helpers to apply commands and to
await model events: see server.Connection); `request` is the decoded body (codec.py); the
returned dict is the response body in Kafka's schema names (codec.encode_response), or None
for a request that gets no response (Produce with acks=0). ApiVersions advertises exactly what
is registered here.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Api:
    key: int
    name: str
    min_version: int
    max_version: int
    fn: object


HANDLERS: dict[int, Api] = {}


def api(key: int, min_version: int, max_version: int):
    def register(fn):
        if key in HANDLERS:
            raise RuntimeError(f"API key {key} is registered twice")
        HANDLERS[key] = Api(key, fn.__name__, min_version, max_version, fn)
        return fn

    return register


# H6b's group APIs (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch)
# register themselves when imported; uncomment at merge:
# from . import groups  # noqa: E402,F401
