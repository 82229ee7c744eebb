"""The client address every per-address limit keys on.

Behind a reverse proxy every request comes from the proxy's address, so a whole school (or the
whole internet) would share one allowance. `X-Forwarded-For` is believed only when the direct
peer is listed in PLAYGROUND_TRUSTED_PROXIES, and then the right-most address that is not
itself a trusted proxy is the client (the left part of the header is whatever the client sent).
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]):
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _trusted(address: str | None, proxies: tuple[str, ...]) -> bool:
    if not address or not proxies:
        return False
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in _networks(proxies))


def real_client(peer: str | None, forwarded_for: str | None) -> str | None:
    """The client's address, given the direct peer and the X-Forwarded-For header value."""
    proxies = tuple(settings.PLAYGROUND_TRUSTED_PROXIES)
    if not forwarded_for or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage where an address should be: the proxy is the client
    return peer


def request_client(request) -> str | None:
    """The client address of a Django request."""
    return real_client(request.META.get("REMOTE_ADDR"),
                       request.META.get("HTTP_X_FORWARDED_FOR"))


def scope_client(scope: dict) -> str | None:
    """The client address of an ASGI scope (a WebSocket's)."""
    peer = (scope.get("client") or [None])[0]
    forwarded = None
    for name, value in scope.get("headers") or ():
        if name == b"x-forwarded-for":
            forwarded = value.decode("latin-1")
            forwarded = forwarded if forwarded else None
    return real_client(peer, forwarded)
