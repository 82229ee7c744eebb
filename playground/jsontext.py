"""Compact JSON text (no spaces after "," and ":"), the one way the playground writes it: frames,
replies and notices on the socket, the size checks that bound them, calls between processes.

- `dumps`: characters kept as they are (the text goes out as UTF-8, so its size is its cost).
- `ascii_dumps`: non-ASCII escaped, for a carrier that cannot hold every str (a lone surrogate
  through the channel layer's msgpack) or a length that must bound the UTF-8 bytes of the
  unescaped text (a character is at most 4 bytes there, 6 or 12 escaped).
- `sorted_dumps`: keys sorted, ASCII: a canonical text to compare two documents by.

Each is one encoder built once: `json.dumps` with any argument builds a new encoder a call,
and these run once per event.
"""

import json

_COMPACT = (",", ":")

dumps = json.JSONEncoder(separators=_COMPACT, ensure_ascii=False).encode
ascii_dumps = json.JSONEncoder(separators=_COMPACT).encode
sorted_dumps = json.JSONEncoder(separators=_COMPACT, sort_keys=True).encode
