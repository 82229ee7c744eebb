from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from playground import env


def test_no_redis_url_means_in_memory_layer():
    for value in (None, "", "  "):
        assert env.channel_layers(value) == {
            "default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}
        }


def test_redis_url_means_redis_layer_without_socket_timeout():
    layers = env.channel_layers("redis://cache.internal:6379/2")
    assert layers == {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": "redis://cache.internal:6379/2", "socket_timeout": None}]
            },
        }
    }


def test_redis_host_dict_reaches_redis_py_with_no_socket_timeout():
    # channels_redis passes the dict (minus "address") to redis-py's ConnectionPool.from_url.
    from channels_redis.core import RedisChannelLayer

    config = env.channel_layers("redis://127.0.0.1:6399/0")["default"]["CONFIG"]
    layer = RedisChannelLayer(**config)
    pool = layer.create_pool(0)
    assert pool.connection_kwargs["socket_timeout"] is None
    assert pool.connection_kwargs["port"] == 6399


def test_allowed_hosts_default():
    assert env.allowed_hosts({}) == ["localhost", "127.0.0.1", "[::1]"]


def test_allowed_hosts_parsing():
    raw = " playground.example.org, .example.net ,,localhost "
    assert env.allowed_hosts({"DJANGO_ALLOWED_HOSTS": raw}) == [
        "playground.example.org",
        ".example.net",
        "localhost",
    ]
    assert env.allowed_hosts({"DJANGO_ALLOWED_HOSTS": ""}) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        ("1", True),
        ("true", True),
        ("ON", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("", False),
    ],
)
def test_debug(value, expected):
    environ = {} if value is None else {"DJANGO_DEBUG": value}
    assert env.debug(environ) is expected


def test_debug_rejects_nonsense():
    with pytest.raises(ImproperlyConfigured, match="DJANGO_DEBUG"):
        env.debug({"DJANGO_DEBUG": "maybe"})


def test_secret_key_from_env():
    assert env.secret_key({"DJANGO_SECRET_KEY": "s3cret"}, debug=False) == "s3cret"


def test_dev_secret_key_only_with_debug():
    assert env.secret_key({}, debug=True) == env.DEV_SECRET_KEY


def test_debug_off_without_secret_key_refuses():
    for environ in ({}, {"DJANGO_SECRET_KEY": "  "}):
        with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY"):
            env.secret_key(environ, debug=False)


def test_settings_refuse_to_load_with_debug_off_and_no_key():
    # The real settings module, in a fresh interpreter, with a production-like environment.
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import playground.settings"],
        cwd=Path(__file__).resolve().parents[2],
        env={"DJANGO_DEBUG": "false", "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_database_default_is_sqlite_in_project_root(tmp_path):
    db = env.databases({}, base_dir=tmp_path)["default"]
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(db["NAME"]) == tmp_path / "db.sqlite3"


def test_database_url():
    db = env.databases({"DATABASE_URL": "postgres://u:p@db:5432/playground"}, Path("/x"))
    assert db["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert db["default"]["NAME"] == "playground"
    assert db["default"]["HOST"] == "db"


def test_sqlite_commits_through_a_write_ahead_log(tmp_path):
    """Rooms commit every accepted command before its ack: WAL + synchronous=NORMAL is what
    lets the embedded SQLite keep up (bench/README.md), and it survives a killed process."""
    import sqlite3

    db = env.databases({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}, tmp_path)
    # What Django's SQLite backend runs on every new connection.
    connection = sqlite3.connect(db["default"]["NAME"])
    connection.executescript(db["default"]["OPTIONS"]["init_command"])
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    connection.close()
    postgres = env.databases({"DATABASE_URL": "postgres://u:p@db:5432/p"}, tmp_path)["default"]
    assert "init_command" not in postgres.get("OPTIONS", {})
