"""Django settings for the playground.

Everything that differs between a laptop and a server comes from the environment (see
playground/env.py and the table in README.md); the defaults are safe for local use only.
"""

import os
from pathlib import Path

from playground import env, process

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env.debug(os.environ)
SECRET_KEY = env.secret_key(os.environ, debug=DEBUG)
ALLOWED_HOSTS = env.allowed_hosts(os.environ)

INSTALLED_APPS = [
    # First, so `manage.py runserver` serves through Daphne (HTTP and WebSocket).
    "daphne",
    "channels",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "playground.apps.PlaygroundConfig",
    "playground.library.apps.LibraryConfig",
    "playground.rooms.apps.RoomsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Pages gzipped for browsers that accept it (the room page: 17 KB of HTML, 5 KB sent;
    # issue 13 wants the whole page under 60 KB). Django pads each gzip stream by a random
    # amount against BREACH-style guessing; static files come compressed from WhiteNoise.
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "playground.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "playground.asgi.application"
CHANNEL_LAYERS = env.channel_layers(os.environ.get("REDIS_URL"))
# With Redis, rooms may run in several processes (a lease per room; playground/rooms/remote.py).
PLAYGROUND_REDIS_URL = (os.environ.get("REDIS_URL") or "").strip() or None

# Rooms (playground/rooms/): see the table in README.md.
# None: WebSocket origins are checked against ALLOWED_HOSTS.
PLAYGROUND_ALLOWED_ORIGINS = env.allowed_origins(os.environ, ALLOWED_HOSTS)
PLAYGROUND_MAX_ROOMS = env.bounded_number(os.environ, "PLAYGROUND_MAX_ROOMS", 120, 1, 10_000)
PLAYGROUND_ROOM_IDLE_S = env.bounded_number(os.environ, "PLAYGROUND_ROOM_IDLE_S", 600, 1,
                                            86_400 * 30)
PLAYGROUND_ROOM_RECORDS_MAX = env.bounded_number(os.environ, "PLAYGROUND_ROOM_RECORDS_MAX",
                                                 50_000, 1, 100_000_000)
PLAYGROUND_WS_RATE_PER_S = env.bounded_number(os.environ, "PLAYGROUND_WS_RATE_PER_S", 10, 0.1,
                                              1_000, integer=False)
PLAYGROUND_WS_BURST = env.bounded_number(os.environ, "PLAYGROUND_WS_BURST", 20, 1, 10_000)
# Rooms one client address may create (/s/<slug>, fork): a burst, refilled per minute.
# A classroom behind one school address: 50 students each open a room (or wake one) at once.
PLAYGROUND_ROOM_CREATE_BURST = env.bounded_number(os.environ, "PLAYGROUND_ROOM_CREATE_BURST",
                                                  80, 1, 100_000)
PLAYGROUND_ROOM_CREATE_PER_MIN = env.bounded_number(os.environ, "PLAYGROUND_ROOM_CREATE_PER_MIN",
                                                    60, 0.1, 100_000, integer=False)
# Days a stored room is kept after its last change (shared recordings are kept for good).
PLAYGROUND_ROOM_KEEP_DAYS = env.bounded_number(os.environ, "PLAYGROUND_ROOM_KEEP_DAYS", 30, 1,
                                               36_500)

# -- Limits that keep one room, one address or one connection from stalling the class --------
# (issue 11; every one is in README's operations table with its default).
# Share of each 50 ms tick the process spends advancing rooms, split among the busy ones.
PLAYGROUND_ROOMS_CPU_SHARE = env.bounded_number(os.environ, "PLAYGROUND_ROOMS_CPU_SHARE", 0.5,
                                                0.05, 0.95, integer=False)
# A room running a jump or step the presenter asked for gets this many shares, not one.
PLAYGROUND_JUMP_WEIGHT = env.bounded_number(os.environ, "PLAYGROUND_JUMP_WEIGHT", 8, 1, 1_000)
# Per room: the model's resources a room may grow to.
PLAYGROUND_TOPIC_PARTITIONS_MAX = env.bounded_number(
    os.environ, "PLAYGROUND_TOPIC_PARTITIONS_MAX", 100, 1, 100_000)
PLAYGROUND_ROOM_PARTITIONS_MAX = env.bounded_number(
    os.environ, "PLAYGROUND_ROOM_PARTITIONS_MAX", 300, 1, 1_000_000)
PLAYGROUND_ROOM_TOPICS_MAX = env.bounded_number(os.environ, "PLAYGROUND_ROOM_TOPICS_MAX", 50, 1,
                                                100_000)
PLAYGROUND_PRODUCER_RATE_MAX = env.bounded_number(
    os.environ, "PLAYGROUND_PRODUCER_RATE_MAX", 1_000, 1, 10_000_000, integer=False)
PLAYGROUND_ROOM_RATE_MAX = env.bounded_number(os.environ, "PLAYGROUND_ROOM_RATE_MAX", 2_000, 1,
                                              10_000_000, integer=False)
# Per client address (behind PLAYGROUND_TRUSTED_PROXIES: the address they forward).
PLAYGROUND_TRUSTED_PROXIES = env.address_list(os.environ, "PLAYGROUND_TRUSTED_PROXIES")
PLAYGROUND_ROOMS_PER_ADDRESS = env.bounded_number(os.environ, "PLAYGROUND_ROOMS_PER_ADDRESS", 70,
                                                  1, 100_000)
PLAYGROUND_WS_PER_ADDRESS = env.bounded_number(os.environ, "PLAYGROUND_WS_PER_ADDRESS", 200, 1,
                                               100_000)
# Per viewer: bytes of frames queued for a socket that is not reading; past it, a resync.
PLAYGROUND_VIEWER_QUEUE_BYTES = env.bounded_number(
    os.environ, "PLAYGROUND_VIEWER_QUEUE_BYTES", 4 * 1024 * 1024, 65_536, 1024 ** 3)
# ... and seconds it may stay past that without reading before its socket is closed (4408).
PLAYGROUND_VIEWER_STUCK_S = env.bounded_number(os.environ, "PLAYGROUND_VIEWER_STUCK_S", 30, 1,
                                               3_600, integer=False)
# The Kafka port: connections per client address, idle timeout, bytes of requests held.
PLAYGROUND_KAFKA_CONNECTIONS_PER_ADDRESS = env.bounded_number(
    os.environ, "PLAYGROUND_KAFKA_CONNECTIONS_PER_ADDRESS", 64, 1, 100_000)
PLAYGROUND_KAFKA_IDLE_S = env.bounded_number(os.environ, "PLAYGROUND_KAFKA_IDLE_S", 600, 1,
                                             86_400, integer=False)
# Requests of one Kafka connection in progress at once: Produce requests that wait only for
# the store (their saves share commits), and the one being handled. 1: strictly one at a time.
PLAYGROUND_KAFKA_PIPELINE = env.bounded_number(os.environ, "PLAYGROUND_KAFKA_PIPELINE", 5, 1, 100)
PLAYGROUND_KAFKA_QUEUED_BYTES = env.bounded_number(
    # At least one whole frame (codec.MAX_FRAME_BYTES, 8 MiB), as Kafka requires.
    os.environ, "PLAYGROUND_KAFKA_QUEUED_BYTES", 64 * 1024 * 1024, 8 * 1024 * 1024, 1024 ** 4)
# Objects a serving process allocates between young garbage collections (Python's default is
# 700; playground/process.py says why more).
PLAYGROUND_GC_YOUNG = env.bounded_number(os.environ, "PLAYGROUND_GC_YOUNG", process.GC_YOUNG,
                                         100, 10_000_000)
# /healthz answers 503 when the event loop lagged more than this lately.
PLAYGROUND_HEALTH_LOOP_LAG_MS = env.bounded_number(
    os.environ, "PLAYGROUND_HEALTH_LOOP_LAG_MS", 500, 10, 600_000)
# ... and when a SQLite database has less room than this left to grow (disk, max_page_count).
PLAYGROUND_HEALTH_DB_FREE_MIN_MB = env.bounded_number(
    os.environ, "PLAYGROUND_HEALTH_DB_FREE_MIN_MB", 16, 0, 1_000_000)

# The Kafka wire listener (playground/kafka/): broker b of the room listens on PORT + b - 1.
PLAYGROUND_KAFKA_HOST = os.environ.get("PLAYGROUND_KAFKA_HOST", "127.0.0.1")
PLAYGROUND_KAFKA_PORT = env.bounded_number(os.environ, "PLAYGROUND_KAFKA_PORT", 9092, 1, 65_000)
PLAYGROUND_KAFKA_ROOM = os.environ.get("PLAYGROUND_KAFKA_ROOM", "live")

DATABASES = env.databases(os.environ, base_dir=BASE_DIR)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# `manage.py collectstatic` (part of `make run`) writes the files here with content-hashed
# names and .br/.gz copies (playground/storage.py); playground/asgi.py serves them through
# WhiteNoise: hashed names cached for good ("immutable"), plain names for a minute.
# A relative DJANGO_STATIC_ROOT is taken from the project's directory.
STATIC_ROOT = BASE_DIR / (os.environ.get("DJANGO_STATIC_ROOT", "").strip() or "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "playground.storage.StaticStorage"},
}
# With DEBUG (as `make run` sets it), WhiteNoise looks each request up in static/ itself
# (its defaults: autorefresh and finders on, max-age 0) and `{% static %}` gives plain names,
# so an edited module shows on reload without collectstatic; hashed, compressed files are
# what a server with DEBUG off (and the test suite's Daphne) sends.

# -- Deployment (HTTPS) --
# Off by default, so `make run` keeps working on http://localhost; a server behind HTTPS sets
# them (README's operations table) and `manage.py check --deploy` then reports no issues.
SECURE_HSTS_SECONDS, SECURE_HSTS_INCLUDE_SUBDOMAINS, SECURE_HSTS_PRELOAD = env.hsts(os.environ)
SECURE_SSL_REDIRECT = env.flag(os.environ, "DJANGO_SECURE_SSL_REDIRECT", False)
# A load balancer's or orchestrator's health probe usually speaks plain HTTP to the backend:
# /healthz answers it rather than redirecting it (it sets no cookie and reads no secret).
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Cookies over HTTPS only: on by default when plain HTTP is redirected anyway.
SESSION_COOKIE_SECURE = env.flag(os.environ, "DJANGO_SESSION_COOKIE_SECURE", SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = env.flag(os.environ, "DJANGO_CSRF_COOKIE_SECURE", SECURE_SSL_REDIRECT)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (opt-in: see env.proxy_ssl_header).
SECURE_PROXY_SSL_HEADER = env.proxy_ssl_header(os.environ)
# Origins allowed to POST (the import form, the admin) when they differ from the Host header,
# as behind some proxies: https://playground.example.com
CSRF_TRUSTED_ORIGINS = env.origin_list(os.environ, "DJANGO_CSRF_TRUSTED_ORIGINS")
