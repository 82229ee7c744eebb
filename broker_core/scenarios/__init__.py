"""The built-in scenarios: the lecture's stories and the failures worth seeing, one JSON file
each beside this module (package data, so they travel with the code in any checkout).

`load_builtin(name)` returns a validated, normalized spec for `build_cluster`;
`list_builtins()` returns what a gallery shows, read from the files without running anything.
"""

import copy
import functools
import json
from importlib import resources

from ..scenario import ScenarioError, validate_scenario

# The order the command line documents them in (DESIGN.md, "The command line").
BUILTIN_NAMES = (
    "amazon-orders",
    "amazon-sync-vs-async",
    "youtube-upload",
    "signup",
    "broker-failure",
    "lost-write",
    "unclean-election",
    "poison-message",
    "timeout-24h",
    "rebalance",
)


class UnknownScenario(KeyError):
    """No built-in scenario has this name."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return self.args[0]


def _raw(name: str) -> dict:
    if name not in BUILTIN_NAMES:
        raise UnknownScenario(f"no built-in scenario named {name!r}; the built-ins are: "
                              f"{', '.join(BUILTIN_NAMES)}")
    text = resources.files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


@functools.cache
def _validated(name: str) -> dict:
    try:
        return validate_scenario(_raw(name))
    except ScenarioError as e:
        # A built-in that does not validate is a bug in this package, not the user's input;
        # say which file so the message leads straight to it.
        raise ScenarioError([{"path": err["path"],
                              "message": f"{err['message']} (built-in {name}.json)"}
                             for err in e.errors]) from None


def load_builtin(name: str) -> dict:
    """The normalized spec of built-in `name` (a fresh copy each call).

    Raises UnknownScenario (a KeyError) for a name that is not a built-in."""
    return copy.deepcopy(_validated(name))


def list_builtins() -> list[dict]:
    """``[{"name", "title", "description", "teaches"}]`` in BUILTIN_NAMES order."""
    out = []
    for name in BUILTIN_NAMES:
        doc = _raw(name)
        out.append({"name": name, "title": doc.get("title", name),
                    "description": doc.get("description", ""), "teaches": doc.get("teaches", "")})
    return out


__all__ = ["BUILTIN_NAMES", "UnknownScenario", "list_builtins", "load_builtin"]
