"""How many bytes of a WebSocket connection are still waiting in the server's memory.

ASGI gives an application no backpressure: under Daphne, `await send()` hands the bytes to
Twisted, which keeps whatever the socket cannot take yet in the transport's buffer and returns
at once. A viewer that never reads would therefore grow that buffer without end (about 50 MB
each before Daphne's ping timeout noticed). The consumer bounds it itself by looking at the
buffer: this module finds the Daphne protocol behind a consumer's `send` and reads how much of
what was written has not reached the kernel yet.

Both steps read Daphne's and Twisted's objects, so both are defensive: anything unexpected
(another ASGI server, a test communicator, a future Daphne) gives None, and the consumer then
runs unbounded as before. tests/playground/test_viewer_transport.py runs a real Daphne, so an
upgrade that breaks the lookup fails a test instead of silently losing the bound.
"""

import functools

# Wrappers between a consumer's `send` and the server's: Channels' session middleware keeps the
# next one as `real_send` on the object whose bound method it passes on.
_WRAPPED_SEND_ATTRS = ("real_send",)
_MAX_DEPTH = 8


def connection_of(send):
    """The Daphne WebSocketProtocol behind `send` (a consumer's base_send), or None.

    Daphne gives each application ``functools.partial(server.handle_reply, protocol)``.
    """
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # served by something else
        return None
    for _ in range(_MAX_DEPTH):
        if send is None:
            return None
        if isinstance(send, functools.partial):
            for arg in send.args:
                if isinstance(arg, WebSocketProtocol):
                    return arg
            send = send.func
            continue
        owner = getattr(send, "__self__", None)
        send = next((getattr(owner, a) for a in _WRAPPED_SEND_ATTRS if hasattr(owner, a)),
                    None)
    return None


def unsent_bytes(protocol) -> int | None:
    """Bytes written to `protocol` that are still in this process, not yet in the kernel's
    socket buffer: autobahn's own send queue, a TLS layer's pending cleartext and the TCP
    transport's buffer. None if the transport is not one this understands."""
    try:
        total = sum(len(data) for data, _ in getattr(protocol, "send_queue", ()) or ())
        transport = protocol.transport
        # TLS (and Twisted's protocol wrappers) sit over the TCP transport as `.transport`.
        for _ in range(_MAX_DEPTH):
            if transport is None:
                return total  # the connection is gone: nothing is held for it
            if hasattr(transport, "_tempDataLen") and hasattr(transport, "dataBuffer"):
                # twisted.internet.abstract.FileDescriptor: `dataBuffer[offset:]` is being
                # written, `_tempDataBuffer` (`_tempDataLen` bytes) waits behind it.
                return (total + len(transport.dataBuffer) - transport.offset
                        + transport._tempDataLen)
            total += sum(len(b) for b in getattr(transport, "_appSendBuffer", ()) or ())
            transport = getattr(transport, "transport", None)
    except (AttributeError, TypeError, ValueError):
        return None
    return None


def is_closing(protocol) -> bool:
    """Whether autobahn has begun closing `protocol` (its ping timeout, a close from either
    side): from then on a send raises instead of queueing, until Daphne reports the
    disconnect."""
    state = getattr(protocol, "state", None)
    return state is not None and state in (getattr(protocol, "STATE_CLOSING", object()),
                                           getattr(protocol, "STATE_CLOSED", object()))
