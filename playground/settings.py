"""Django settings for the playground.

Everything that differs between a laptop and a server comes from the environment (see
playground/env.py and the table in README.md); the defaults are safe for local use only.
"""

import os
from pathlib import Path

from playground import env

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
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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

# Rooms (playground/rooms/): see the table in README.md.
# None: WebSocket origins are checked against ALLOWED_HOSTS.
PLAYGROUND_ALLOWED_ORIGINS = env.allowed_origins(os.environ, ALLOWED_HOSTS)
PLAYGROUND_MAX_ROOMS = env.bounded_number(os.environ, "PLAYGROUND_MAX_ROOMS", 100, 1, 10_000)
PLAYGROUND_ROOM_IDLE_S = env.bounded_number(os.environ, "PLAYGROUND_ROOM_IDLE_S", 600, 1,
                                            86_400 * 30)
PLAYGROUND_ROOM_RECORDS_MAX = env.bounded_number(os.environ, "PLAYGROUND_ROOM_RECORDS_MAX",
                                                 200_000, 1, 100_000_000)
PLAYGROUND_WS_RATE_PER_S = env.bounded_number(os.environ, "PLAYGROUND_WS_RATE_PER_S", 10, 0.1,
                                              1_000, integer=False)
PLAYGROUND_WS_BURST = env.bounded_number(os.environ, "PLAYGROUND_WS_BURST", 20, 1, 10_000)
# The Kafka wire listener (playground/kafka/): broker b of the room listens on PORT + b - 1.
PLAYGROUND_KAFKA_HOST = os.environ.get("PLAYGROUND_KAFKA_HOST", "127.0.0.1")
PLAYGROUND_KAFKA_PORT = env.bounded_number(os.environ, "PLAYGROUND_KAFKA_PORT", 9092, 1, 65_000)
PLAYGROUND_KAFKA_ROOM = os.environ.get("PLAYGROUND_KAFKA_ROOM", "live")
# `make run` starts the listener inside Daphne unless this is 0 (then run it on its own with
# `python manage.py kafka_listener`).
PLAYGROUND_KAFKA_LISTENER = env.parse_bool(os.environ.get("PLAYGROUND_KAFKA_LISTENER"), False,
                                           "PLAYGROUND_KAFKA_LISTENER")

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
STATIC_ROOT = BASE_DIR / "staticfiles"
