"""Reading configuration from the environment, as small pure functions.

settings.py calls these with ``os.environ``; tests call them with plain dicts. Nothing here
reads the process environment by itself, so every rule is testable without monkeypatching.
"""

from collections.abc import Mapping
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

DEFAULT_ALLOWED_HOSTS = "localhost,127.0.0.1,[::1]"
# Only ever used with DEBUG on: a key anyone can read is fine for a laptop, never for a server.
DEV_SECRET_KEY = "django-insecure-playground-dev-key-do-not-use-in-production"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(value: str | None, default: bool, name: str = "value") -> bool:
    """'1/true/yes/on' -> True, '0/false/no/off/empty' -> False, unset -> `default`."""
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be a boolean (true/false, 1/0, yes/no, on/off), not {value!r}"
    )


def debug(env: Mapping[str, str]) -> bool:
    """DJANGO_DEBUG, off unless asked for: a server started without configuration must not
    show debug pages or run on the public development key. `make run` turns it on."""
    return parse_bool(env.get("DJANGO_DEBUG"), default=False, name="DJANGO_DEBUG")


def allowed_hosts(env: Mapping[str, str]) -> list[str]:
    """DJANGO_ALLOWED_HOSTS as a list: comma-separated, blanks and empty items dropped."""
    raw = env.get("DJANGO_ALLOWED_HOSTS")
    if raw is None:
        raw = DEFAULT_ALLOWED_HOSTS
    return [host.strip() for host in raw.split(",") if host.strip()]


def secret_key(env: Mapping[str, str], debug: bool) -> str:
    """DJANGO_SECRET_KEY; the built-in development key only when DEBUG is on."""
    key = env.get("DJANGO_SECRET_KEY", "").strip()
    if key:
        return key
    if debug:
        return DEV_SECRET_KEY
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set and DJANGO_DEBUG is off. Set DJANGO_SECRET_KEY to a long "
        "random value (for example: python3 -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )


def databases(env: Mapping[str, str], base_dir: Path) -> dict:
    """DATABASE_URL via dj-database-url; a SQLite file db.sqlite3 in the project root by default."""
    default_url = f"sqlite:///{base_dir / 'db.sqlite3'}"
    url = env.get("DATABASE_URL", "").strip() or default_url
    config = dj_database_url.parse(url, conn_max_age=0)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Every command a room accepts is committed before its ack. WAL with synchronous=NORMAL
        # keeps a commit durable when the process is killed (what restoring rooms after a
        # restart needs; not a power cut, the embedded default's trade-off) at a fraction of
        # the rollback journal's fsyncs; readers no longer block the writer either.
        config.setdefault("OPTIONS", {})["init_command"] = (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
    return {"default": config}


def channel_layers(redis_url: str | None) -> dict:
    """The Channels layer: Redis when REDIS_URL is set, else in-process memory.

    The host is a dict rather than a bare URL so we can pass ``socket_timeout: None``.
    channels_redis (4.3, ``utils.create_pool``) hands every key but ``address`` to redis-py's
    ``ConnectionPool.from_url``. redis-py 8 defaults ``socket_timeout`` to 5 s, and a consumer
    that is idle waits in BZPOPMIN with channels_redis's own 5 s timeout, so the socket read
    would race the server's reply and kill idle consumers. ``None`` means "wait as long as the
    command does"; the connect timeout keeps redis-py's default (5 s), so a dead server still
    fails fast.
    """
    redis_url = (redis_url or "").strip()
    if not redis_url:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": redis_url, "socket_timeout": None}]},
        }
    }


def allowed_origins(env: Mapping[str, str], allowed_hosts: list[str]) -> list[str] | None:
    """PLAYGROUND_ALLOWED_ORIGINS: the browser origins that may open a WebSocket.

    Comma-separated, each a host (``example.com``, ``.example.com`` for subdomains) or an origin
    with its scheme and port (``https://example.com:8443``). Unset: None, and the Origin header is
    checked against DJANGO_ALLOWED_HOSTS. But ``*`` there would let any web page drive a room
    from a visitor's browser, so that combination is refused: name the origins explicitly.
    """
    raw = env.get("PLAYGROUND_ALLOWED_ORIGINS", "").strip()
    if raw:
        origins = [o.strip() for o in raw.split(",") if o.strip()]
        if "*" in origins:
            raise ImproperlyConfigured("PLAYGROUND_ALLOWED_ORIGINS must list origins; '*' "
                                       "would let any web site use the playground's sockets")
        return origins
    if "*" in allowed_hosts:
        raise ImproperlyConfigured(
            "DJANGO_ALLOWED_HOSTS contains '*', which would also accept WebSockets from any "
            "origin: set PLAYGROUND_ALLOWED_ORIGINS to the origins of your site, for example "
            "https://playground.example.com")
    return None


def bounded_number(env: Mapping[str, str], name: str, default, minimum, maximum,
                   integer: bool = True):
    """A numeric setting within [minimum, maximum]; `default` when unset or blank."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise ImproperlyConfigured(f"{name} must be {kind}, not {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ImproperlyConfigured(f"{name} must be between {minimum} and {maximum}, not {raw}")
    return value


def address_list(env: Mapping[str, str], name: str) -> list[str]:
    """Comma-separated IP addresses or networks (``10.0.0.1``, ``10.0.0.0/8``), checked."""
    import ipaddress

    items = [item.strip() for item in env.get(name, "").split(",") if item.strip()]
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses or networks (10.0.0.1, 10.0.0.0/8), "
                f"not {item!r}") from None
    return items


# -- Deployment (HTTPS) -------------------------------------------------------------------------
# Each default keeps `make run` on plain http://localhost working; a server behind HTTPS turns
# them on (README's operations table), and then `manage.py check --deploy` has nothing to say.

HSTS_PRELOAD_MIN_SECONDS = 31_536_000  # what hstspreload.org asks for: one year


def flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean setting `name` (see parse_bool); `default` when unset or blank."""
    raw = env.get(name)
    return default if raw is None or not raw.strip() else parse_bool(raw, default, name)


def hsts(env: Mapping[str, str]) -> tuple[int, bool, bool]:
    """(SECURE_HSTS_SECONDS, SECURE_HSTS_INCLUDE_SUBDOMAINS, SECURE_HSTS_PRELOAD).

    DJANGO_SECURE_HSTS_SECONDS, 0 (off) by default: once a browser has seen the header it
    refuses plain HTTP for that long, so it is for a site that is HTTPS for good. Including
    subdomains follow it unless set. Preloading (DJANGO_SECURE_HSTS_PRELOAD) is asked for
    explicitly: a site on the browsers' preload list stays HTTPS-only, subdomains included, for
    months after it asks to leave. It is refused with a clear message when the list would
    refuse the site (under a year, or without subdomains)."""
    seconds = bounded_number(env, "DJANGO_SECURE_HSTS_SECONDS", 0, 0, 10 * 365 * 86_400)
    include = flag(env, "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", seconds > 0)
    preload = flag(env, "DJANGO_SECURE_HSTS_PRELOAD", False)
    if preload and (seconds < HSTS_PRELOAD_MIN_SECONDS or not include):
        raise ImproperlyConfigured(
            f"DJANGO_SECURE_HSTS_PRELOAD is on, but the preload list needs "
            f"DJANGO_SECURE_HSTS_SECONDS >= {HSTS_PRELOAD_MIN_SECONDS} (it is {seconds}) and "
            f"DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS on (it is {'on' if include else 'off'})")
    return seconds, include, preload


def proxy_ssl_header(env: Mapping[str, str]) -> tuple[str, str] | None:
    """DJANGO_SECURE_PROXY_SSL_HEADER: how a TLS-terminating proxy says a request came over
    HTTPS. Unset or off: None (Django looks at the connection itself). On (``1``, ``true``):
    ``X-Forwarded-Proto: https``. Or a header and value of your own: ``X-Forwarded-Ssl: on``.

    Only behind a proxy that sets the header on every request and drops the client's own: a
    client could otherwise claim HTTPS. Without it behind such a proxy, DJANGO_SECURE_SSL_REDIRECT
    would redirect forever (every request looks like plain HTTP)."""
    raw = env.get("DJANGO_SECURE_PROXY_SSL_HEADER", "").strip()
    if not raw:
        return None
    if ":" not in raw:
        if parse_bool(raw, False, "DJANGO_SECURE_PROXY_SSL_HEADER"):
            return ("HTTP_X_FORWARDED_PROTO", "https")
        return None
    header, _, value = (part.strip() for part in raw.partition(":"))
    if not header or not value or not all(c.isalnum() or c == "-" for c in header):
        raise ImproperlyConfigured(
            "DJANGO_SECURE_PROXY_SSL_HEADER must be on/off or 'Header-Name: value' (for "
            f"example 'X-Forwarded-Proto: https'), not {raw!r}")
    return ("HTTP_" + header.upper().replace("-", "_"), value)


def origin_list(env: Mapping[str, str], name: str) -> list[str]:
    """Comma-separated origins with their scheme (``https://playground.example.com``)."""
    items = [item.strip() for item in env.get(name, "").split(",") if item.strip()]
    for item in items:
        scheme, sep, host = item.partition("://")
        if not sep or scheme not in ("http", "https") or not host or "/" in host:
            raise ImproperlyConfigured(
                f"{name} must list origins with their scheme, such as "
                f"https://playground.example.com, not {item!r}")
    return items
