"""Compact JSON text (no spaces after "," and ":"), the one way the playground writes it: frames,
replies and notices on the socket, the size checks that bound them, calls between processes.

- `dumps`: characters kept as they are (the text goes out as UTF-8, so its size is its cost).
- `ascii_dumps`: non-ASCII escaped, for a carrier that cannot hold every str (a lone surrogate
  through the channel layer's msgpack) or a length that must bound the UTF-8 bytes of the
  unescaped text (a character is at most 4 bytes there, 6 or 12 escaped).
- `sorted_dumps`: keys sorted, ASCII: a canonical text to compare two documents by.
- `plain_ascii_dumps`: `ascii_dumps`'s text, made by orjson (8x faster) for data the playground
  builds itself from decoded bytes (a real client's batch of records): str, int, bool, None,
  lists and dicts with str keys. Never for floats (orjson writes NaN as null where the
  standard encoder writes NaN) nor for dataclasses, datetimes, UUIDs or enums (orjson writes
  them, the standard encoder refuses them), so a user's command always goes through
  `ascii_dumps`.

Each is one encoder built once: `json.dumps` with any argument builds a new encoder a call,
and these run once per event.

And `lone_surrogates`: JSON lets "\ud800" through, but a lone surrogate is not text (it cannot
be sized or sent as UTF-8): where decoded data holds one.
"""

import json

import orjson

_COMPACT = (",", ":")

dumps = json.JSONEncoder(separators=_COMPACT, ensure_ascii=False).encode
ascii_dumps = json.JSONEncoder(separators=_COMPACT).encode
sorted_dumps = json.JSONEncoder(separators=_COMPACT, sort_keys=True).encode


def _as_tuple(value):
    # orjson writes tuples but not their subclasses (broker_core's Records: a client's batch).
    if isinstance(value, tuple):
        return tuple(value)
    raise TypeError


def plain_ascii_dumps(data) -> str:
    """`ascii_dumps(data)` for plain data (see the module's docstring). orjson's compact
    output is the standard encoder's for ASCII text but DEL, and for 64-bit integers; anything
    else it either refuses (a lone surrogate, a larger integer) or writes as non-ASCII bytes
    or DEL, and then the standard encoder writes it, escaped."""
    try:
        text = orjson.dumps(data, default=_as_tuple)
    except orjson.JSONEncodeError:
        return ascii_dumps(data)
    # DEL is ASCII that the standard encoder escapes (\u007f) and orjson does not.
    if text.isascii() and b"\x7f" not in text:
        return text.decode("ascii")
    return ascii_dumps(data)


def lone_surrogates(node, path: str, key_path):
    """Yield (path, "key") for each object key, and (path, "text") for each string, in decoded
    JSON data `node` that holds a lone surrogate: a key is reported at its object's path (its
    value is not looked into), a string at its own. `key_path(parent, key)` names a key's
    value; list items are `parent[i]`. Depth is bounded by the JSON decoder."""
    stack = [(path, node)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if not _encodable(node):
                yield path, "text"
        elif isinstance(node, dict):
            for key, value in node.items():
                if not _encodable(str(key)):
                    yield path, "key"
                    continue
                stack.append((key_path(path, key), value))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", value) for i, value in enumerate(node))


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
