"""Small readers for command fields that fail with a CommandError naming the field and the rule.

Commands arrive as JSON from browsers, scenario files and share links, so every field is checked
for presence, type and range before any state changes. JSON has no separate boolean and integer
types in Python terms (``True == 1``), so booleans are refused where a number is expected.
"""

import re

from .errors import CommandError

_MISSING = object()
# How long a record's key and value may be in a command, in characters. One bound for every
# command, typed or sent by a real client: a sanity bound, not Kafka's limit (the topic's
# max.message.bytes decides, with MESSAGE_TOO_LARGE, as Kafka answers). It stays above any
# record a topic may accept (max.message.bytes can be raised) and above the base64 text of a
# binary one: a wire request frame is at most 8 MiB, 11.2 M characters as base64.
MAX_KEY_CHARS = 12_000_000
MAX_VALUE_CHARS = 12_000_000
MAX_HEADERS = 50  # per record; a header's name is at most 1,000 characters
_ACKS = {"0": "0", "1": "1", "all": "all", "-1": "all"}  # acks as given -> as the model keeps it

# ASCII digits only: str.isdigit() also accepts '²' and friends, which int() refuses.
_INTEGER = re.compile(r"-?[0-9]{1,19}")


def _given(command: dict, name: str, default, field: str | None = None, nullable=False):
    """The field's value; _MISSING when it is absent and has a default; an error when it is
    absent and required."""
    value = command.get(name, _MISSING)
    if value is _MISSING or (value is None and not nullable):
        if default is _MISSING:
            raise CommandError(field or name, "is required")
        return _MISSING
    return value


def check_fields(command: dict, allowed: frozenset, prefix: str = "") -> None:
    # Usually every field is known: one set operation in C says so in about half the time
    # of the loop below, which is there to name the unknown field.
    if allowed.issuperset(command):
        return
    for name in command:
        if name not in allowed:
            known = ", ".join(sorted(allowed - {"type"}))
            raise CommandError(prefix + str(name), f"unknown field; this command takes: {known}")


def integer(command: dict, name: str, *, default=_MISSING, minimum=None, maximum=None,
            field=None) -> int:
    if default is not _MISSING and command.get(name) is None:
        return default  # absent or null, the usual case of an optional field: said at once
    field = field or name
    value = _given(command, name, default, field)
    if value is _MISSING:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            value = int(value)
        else:
            raise CommandError(field, f"must be a whole number, not {value!r}")
    if minimum is not None and value < minimum:
        raise CommandError(field, f"must be at least {minimum:,}, not {value:,}")
    if maximum is not None and value > maximum:
        raise CommandError(field, f"must be at most {maximum:,}, not {value:,}")
    return value


def number(command: dict, name: str, *, default=_MISSING, minimum=None, maximum=None,
           exclusive_minimum=None) -> float:
    value = _given(command, name, default)
    if value is _MISSING:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CommandError(name, f"must be a number, not {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise CommandError(name, "must be a finite number")
    if exclusive_minimum is not None and value <= exclusive_minimum:
        raise CommandError(name, f"must be greater than {exclusive_minimum}, not {value}")
    if minimum is not None and value < minimum:
        raise CommandError(name, f"must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise CommandError(name, f"must be at most {maximum:,}, not {value}")
    return value


def string(command: dict, name: str, *, default=_MISSING, max_length=None,
           nullable=False) -> str | None:
    value = command.get(name)
    # An ASCII str, the usual case, skips the rest: a one-record produce reads three strings.
    if type(value) is not str or not value.isascii():
        value = _given(command, name, default, nullable=nullable)
        if value is _MISSING:
            return default
        if value is None:
            return None
        if not isinstance(value, str):
            raise CommandError(name, f"must be a string, not {type(value).__name__}")
        unicode_text(value, name)
    if max_length is not None and len(value) > max_length:
        raise CommandError(name, f"must be at most {max_length:,} characters, not {len(value):,}")
    return value


def unicode_text(value: str, name: str) -> None:
    """JSON lets "\ud800" through, but a lone surrogate is not text: it cannot be sized in
    UTF-8 (record sizes), stored or sent to a browser. Refused where the field can be named."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise CommandError(name, f"must be Unicode text; character {e.start} is a lone "
                               "surrogate") from None


def choice(command: dict, name: str, options: tuple, *, default=_MISSING):
    value = _given(command, name, default)
    if value is _MISSING:
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # acks may arrive as the number 1 or 0
    if value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise CommandError(name, f"must be one of {listed}, not {value!r}")
    return value


def mapping(command: dict, name: str, *, default=_MISSING) -> dict:
    value = _given(command, name, default)
    if value is _MISSING:
        return default
    if not isinstance(value, dict):
        raise CommandError(name, f"must be an object, not {type(value).__name__}")
    return value


def string_list(command: dict, name: str, *, min_items=1, max_items=100) -> list[str]:
    value = command.get(name, _MISSING)
    if isinstance(value, str):
        value = [value]
    if value is _MISSING or value is None:
        raise CommandError(name, "is required")
    if not isinstance(value, list):
        raise CommandError(name, "must be a list of strings")
    if len(value) < min_items:
        raise CommandError(name, f"must name at least {min_items}")
    if len(value) > max_items:
        raise CommandError(name, f"may name at most {max_items}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise CommandError(f"{name}[{i}]", "must be a string")
    return value


def identifier(command: dict, name: str, *, default=_MISSING, what="id") -> str:
    """Ids of groups, consumers and producers: short, printable, no surprises in a URL or a log."""
    if default is not _MISSING and command.get(name) is None:
        return default  # absent or null, as string() would answer, without its general path
    value = string(command, name, default=default, max_length=64)
    if value is None or value is default:
        return value
    if not value or not all(c.isalnum() or c in "._-" for c in value) or not value.isascii():
        raise CommandError(name, f"a {what} is 1-64 characters of letters, digits, '.', '_', '-'")
    return value


def acks(command: dict, *, default=_MISSING) -> str:
    """A producer's acks: "0", "1" or "all" (Kafka spells all also as -1)."""
    spelled = command.get("acks")
    # A string spelling, the usual case, is one lookup; anything else (absent, the number 1,
    # a wrong value) goes through choice, which says what is wrong.
    if type(spelled) is str and spelled in _ACKS:
        return _ACKS[spelled]
    value = choice(command, "acks", ("0", "1", "all", "-1"), default=default)
    return "all" if value == "-1" else value


def headers(value, field: str, *, empty_names: bool) -> dict | list | None:
    """A record's headers: null, or an object of at most MAX_HEADERS names (strings of at most
    1,000 characters; empty only where `empty_names`: Kafka's clients may send one, the page's
    form may not) to string or null values; or, where `empty_names` (real clients, which may
    send a name twice: Kafka keeps both), a list of [name, value] pairs. A copy, or None for
    none."""
    if value is None:
        return None
    pairs = None
    if isinstance(value, list) and empty_names and len(value) <= MAX_HEADERS:
        if not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
            raise CommandError(field, "a list of headers holds [name, value] pairs")
        pairs = [list(p) for p in value]
    elif not isinstance(value, dict) or len(value) > MAX_HEADERS:
        raise CommandError(field, f"must be null or an object of at most {MAX_HEADERS} header "
                           "names to string (or null) values")
    for name, item in (pairs if pairs is not None else value.items()):
        if not isinstance(name, str) or len(name) > 1_000 or not (name or empty_names):
            raise CommandError(field, f"header names must be {'' if empty_names else 'non-empty '}"
                               f"strings of at most 1,000 characters, not {name!r}"[:300])
        unicode_text(name, field)
        if item is not None:
            if not isinstance(item, str):
                raise CommandError(f"{field}.{name}", "a header value must be a string or null")
            unicode_text(item, f"{field}.{name}")
    if pairs is not None:
        return pairs or None
    return dict(value) or None
