"""Topic configuration: Kafka's names, defaults and rules for the settings the model honours.

Values arrive as JSON numbers, booleans or (as Kafka's admin API sends them) strings; they are
normalised to typed values so a snapshot always shows ``604800000``, never ``"604800000"``.
Names follow ``org.apache.kafka.common.internals.Topic.validate``.
"""

import re

from .errors import CommandError

MAX_NAME_LENGTH = 249
_INTEGER = re.compile(r"-?[0-9]{1,19}")  # ASCII digits: isdigit() would pass '²', int() not
_LEGAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")

# name -> (default, kind, minimum)
TOPIC_CONFIGS: dict[str, tuple] = {
    "retention.ms": (604_800_000, "long", -1),
    "retention.bytes": (-1, "long", -1),
    "cleanup.policy": ("delete", "policy", None),
    "min.insync.replicas": (1, "int", 1),
    "unclean.leader.election.enable": (False, "bool", None),
    "max.message.bytes": (1_048_588, "int", 0),
}

_INT_MAX = 2**31 - 1
_LONG_MAX = 2**63 - 1


def default_config() -> dict:
    return {name: spec[0] for name, spec in TOPIC_CONFIGS.items()}


def validate_topic_name(name, field: str = "name") -> str:
    if not isinstance(name, str):
        raise CommandError(field, "a topic name must be a string")
    if not name:
        raise CommandError(field, "a topic name can't be empty")
    if name in (".", ".."):
        raise CommandError(field, "a topic name can't be '.' or '..'")
    if len(name) > MAX_NAME_LENGTH:
        raise CommandError(field, f"a topic name is at most {MAX_NAME_LENGTH} characters, "
                                  f"not {len(name)}")
    bad = sorted({c for c in name if c not in _LEGAL})
    if bad:
        shown = " ".join(repr(c) for c in bad[:5])
        raise CommandError(field, f"a topic name may only contain ASCII letters, digits, '.', "
                                  f"'_' and '-'; it contains {shown}")
    return name


def collision_key(name: str) -> str:
    """Kafka refuses topics that differ only in '.' versus '_' (their metric names collide)."""
    return name.replace(".", "_")


def validate_config(config, field: str = "config") -> dict:
    """Check a partial config object; return the normalised values it sets."""
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise CommandError(field, "must be an object of Kafka topic config names to values")
    out = {}
    for name, raw in config.items():
        where = f"{field}.{name}"
        spec = TOPIC_CONFIGS.get(name)
        if spec is None:
            known = ", ".join(TOPIC_CONFIGS)
            raise CommandError(where, f"not a topic config the playground models; known: {known}")
        default, kind, minimum = spec
        out[name] = _parse(where, raw, kind, minimum)
    return out


def _parse(where: str, raw, kind: str, minimum):
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise CommandError(where, f"must be true or false, not {raw!r}")
    if kind == "policy":
        if raw == "delete":
            return raw
        if raw in ("compact", "compact,delete", "delete,compact"):
            raise CommandError(where, "log compaction is not modelled yet; use 'delete'")
        raise CommandError(where, f"must be 'delete', not {raw!r}")
    if isinstance(raw, bool):
        raise CommandError(where, f"must be a whole number, not {raw!r}")
    if isinstance(raw, str):
        text = raw.strip()
        if not _INTEGER.fullmatch(text):
            raise CommandError(where, f"must be a whole number, not {raw!r}")
        raw = int(text)
    elif isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    elif not isinstance(raw, int):
        raise CommandError(where, f"must be a whole number, not {raw!r}")
    maximum = _INT_MAX if kind == "int" else _LONG_MAX
    if raw < minimum:
        raise CommandError(where, f"must be at least {minimum}, not {raw}")
    if raw > maximum:
        raise CommandError(where, f"must be at most {maximum}, not {raw}")
    return raw
