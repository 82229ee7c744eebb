"""Per-address limits key on the real client: X-Forwarded-For is believed only from a proxy in
PLAYGROUND_TRUSTED_PROXIES, and then its right-most address that is not a trusted proxy."""

import pytest

from playground.rooms.registry import Rooms, set_rooms

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.1"


@pytest.fixture
def registry(settings):
    settings.PLAYGROUND_TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]
    # One new room per address, refilled very slowly: the second from an address is refused.
    rooms = Rooms(max_rooms=20, create_burst=1, create_per_min=0.1)
    set_rooms(rooms)
    yield rooms
    set_rooms(None)


def open_room(client, peer: str, forwarded_for: str | None = None):
    extra = {"REMOTE_ADDR": peer}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client.get("/s/signup", **extra).status_code


def charged(registry) -> list[str]:
    return list(registry.creations.buckets)


def test_students_behind_a_trusted_proxy_each_have_their_own_allowance(client, registry):
    for n in range(1, 6):
        assert open_room(client, PROXY, f"203.0.113.{n}") == 302
    assert charged(registry) == [f"203.0.113.{n}" for n in range(1, 6)]
    # The same student again: their own allowance is spent, nobody else's.
    assert open_room(client, PROXY, "203.0.113.1") == 429
    assert open_room(client, PROXY, "203.0.113.6") == 302


def test_the_right_most_untrusted_address_is_the_client(client, registry):
    # What the client wrote itself (the left part) is not believed; the hops our own proxies
    # appended are skipped; the address the first of them saw is the client.
    assert open_room(client, PROXY, "198.51.100.9, 203.0.113.5, 10.0.0.7") == 302
    assert charged(registry) == ["203.0.113.5"]
    # Another spoofed left part does not buy a new allowance.
    assert open_room(client, PROXY, "192.0.2.44, 203.0.113.5, 10.0.0.7") == 429


def test_a_spoofed_header_from_an_untrusted_peer_is_ignored(client, registry):
    assert open_room(client, "192.0.2.1", "203.0.113.5") == 302
    assert charged(registry) == ["192.0.2.1"]
    assert open_room(client, "192.0.2.1", "203.0.113.6") == 429


def test_without_trusted_proxies_the_header_is_ignored(client, registry, settings):
    settings.PLAYGROUND_TRUSTED_PROXIES = []
    assert open_room(client, PROXY, "203.0.113.5") == 302
    assert open_room(client, PROXY, "203.0.113.6") == 429
    assert charged(registry) == [PROXY]


def test_only_trusted_hops_or_garbage_fall_back_to_the_peer(client, registry):
    assert open_room(client, PROXY, "10.0.0.9, 10.0.0.8") == 302  # all proxies: the peer
    assert charged(registry) == [PROXY]
    assert open_room(client, "fd00::1", "not-an-address") == 302
    assert charged(registry) == [PROXY, "fd00::1"]


def test_anonymous_imports_share_the_real_clients_allowance(client, registry):
    def post(forwarded_for: str) -> int:
        return client.post("/import", {"text": "not a document"}, REMOTE_ADDR=PROXY,
                           HTTP_X_FORWARDED_FOR=forwarded_for).status_code

    assert post("203.0.113.5") == 400  # checked (and refused): the allowance is taken
    assert post("203.0.113.6") == 400  # another student behind the same proxy
    assert post("203.0.113.5") == 429
    assert charged(registry) == ["203.0.113.6", "203.0.113.5"]
