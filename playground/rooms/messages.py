"""What a viewer may send a room, checked field by field before the room acts on it.

Every refusal is a `ProtocolError(field, message)`; the consumer turns it into an ``error``
reply and the room goes on as if the message never came. Field names follow the message's
shape (``action``, ``speed``, ``command.partitions``) so the page can point at the culprit.
"""

import math

from broker_core import CommandError
from broker_core import validate as v
from playground.jsontext import lone_surrogates

from .pacing import SPEED_MAX, SPEED_MIN

MAX_MESSAGE_BYTES = 64 * 1024
MAX_REQUEST_ID_CHARS = 64
MAX_STEP_MS = 7 * 86_400_000  # a step or jump further than a week is a typo, not a lesson
MAX_TITLE_CHARS = 200
MAX_SEEK_MS = 10**15  # the room checks the real bound (its recording's end + a week)
MESSAGE_TYPES = ("command", "control", "narrate", "resync", "room", "share", "fork")
ACTIONS = ("play", "pause", "step", "speed", "jump", "seek")
ROOM_ACTIONS = ("open", "close")
_CONTROL_FIELDS = {
    "play": frozenset(),
    "pause": frozenset(),
    "step": frozenset({"ms"}),
    "speed": frozenset({"speed"}),
    "jump": frozenset({"ms"}),
    "seek": frozenset({"to_ms"}),
}


class ProtocolError(Exception):
    def __init__(self, field: str, message: str, request_id: str | None = None):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.request_id = request_id

    def reply(self) -> dict:
        out = {"type": "error"}
        if self.request_id is not None:
            out["request_id"] = self.request_id
        out["field"] = self.field
        out["message"] = self.message
        return out


def _reading(request_id, fn, *args, **kwargs):
    """Run a broker_core field reader, turning its CommandError into a ProtocolError."""
    try:
        return fn(*args, **kwargs)
    except CommandError as e:
        raise ProtocolError(e.field, e.message, request_id) from None


def _broken_text(node) -> str | None:
    """The field path (``command.headers.x``) of the first key or string in `node` holding a
    lone surrogate, or None."""
    found = next(lone_surrogates(node, "", lambda path, key: f"{path}.{key}" if path else key),
                 None)
    return None if found is None else (found[0] or "message")


def parse(message) -> dict:
    """Validate one decoded client message; return it normalised (ints and floats checked)."""
    if not isinstance(message, dict):
        raise ProtocolError("message", "must be a JSON object with a 'type'")
    broken = _broken_text(message)
    if broken is not None:
        # JSON's "\\ud800" parses to a string that is not Unicode: the model would fail on
        # it half way (hashing a key), the store could not save it, no frame could carry it.
        request_id = message.get("request_id")
        raise ProtocolError(broken, "is not valid Unicode text (a lone surrogate such as "
                            "\\ud800)", request_id if isinstance(request_id, str)
                            and _broken_text(request_id) is None else None)
    kind = message.get("type")
    if kind not in MESSAGE_TYPES:
        raise ProtocolError("type", f"must be one of {', '.join(MESSAGE_TYPES)}, not {kind!r}")
    if kind == "resync":
        _reading(None, v.check_fields, message, frozenset({"type"}))
        return {"type": "resync"}
    request_id = message.get("request_id")
    if (not isinstance(request_id, str) or not request_id
            or len(request_id) > MAX_REQUEST_ID_CHARS):
        raise ProtocolError("request_id",
                            f"must be a string of 1 to {MAX_REQUEST_ID_CHARS} characters")
    if kind == "command":
        _reading(request_id, v.check_fields, message, frozenset({"type", "request_id",
                                                                 "command"}))
        command = message.get("command")
        if not isinstance(command, dict):
            raise ProtocolError("command", "must be an object with a 'type'", request_id)
        return {"type": "command", "request_id": request_id, "command": command}
    if kind == "narrate":
        _reading(request_id, v.check_fields, message, frozenset({"type", "request_id", "step"}))
        step = _reading(request_id, v.integer, message, "step", minimum=0, maximum=10_000)
        return {"type": "narrate", "request_id": request_id, "step": step}
    if kind == "room":
        _reading(request_id, v.check_fields, message, frozenset({"type", "request_id",
                                                                 "action"}))
        action = message.get("action")
        if action not in ROOM_ACTIONS:
            raise ProtocolError("action", f"must be one of {', '.join(ROOM_ACTIONS)}, "
                                f"not {action!r}", request_id)
        return {"type": "room", "request_id": request_id, "action": action}
    if kind == "share":
        _reading(request_id, v.check_fields, message, frozenset({"type", "request_id",
                                                                 "title"}))
        title = message.get("title")
        if title is not None and (not isinstance(title, str) or not title.strip()
                                  or len(title) > MAX_TITLE_CHARS):
            raise ProtocolError("title", f"must be a non-blank string of at most "
                                f"{MAX_TITLE_CHARS} characters", request_id)
        return {"type": "share", "request_id": request_id,
                "title": title.strip() if title else None}
    if kind == "fork":
        _reading(request_id, v.check_fields, message, frozenset({"type", "request_id"}))
        return {"type": "fork", "request_id": request_id}
    action = message.get("action")
    if action not in ACTIONS:
        raise ProtocolError("action", f"must be one of {', '.join(ACTIONS)}, not {action!r}",
                            request_id)
    allowed = frozenset({"type", "request_id", "action"}) | _CONTROL_FIELDS[action]
    _reading(request_id, v.check_fields, message, allowed)
    out = {"type": "control", "request_id": request_id, "action": action}
    if action == "speed":
        speed = _reading(request_id, v.number, message, "speed", minimum=SPEED_MIN,
                         maximum=SPEED_MAX)
        if not math.isfinite(speed):
            raise ProtocolError("speed", "must be a finite number", request_id)
        out["speed"] = float(speed)
    elif action == "step":
        out["ms"] = _reading(request_id, v.integer, message, "ms", default=None, minimum=1,
                             maximum=MAX_STEP_MS)
    elif action == "jump":
        out["ms"] = _reading(request_id, v.integer, message, "ms", minimum=1,
                             maximum=MAX_STEP_MS)
    elif action == "seek":
        out["to_ms"] = _reading(request_id, v.integer, message, "to_ms", minimum=0,
                                maximum=MAX_SEEK_MS)
    return out
