"""The franz-go conformance program (franz-go v1.22.3 with kadm v1.20.0; main.go beside this
file), built once into .cache/conformance/bin/ by conformance/clients/gobuild.py and run with
the contract's command line:

    python -m conformance.clients.franz --bootstrap HOST:PORT --prefix PREFIX [--only CHECKS]
"""

from conformance.clients import gobuild

NAME = "franz"


def build():
    return gobuild.build(NAME)


def command(bootstrap: str, prefix: str, only: str | None = None) -> list[str]:
    """The argv that runs the checks (builds first when needed)."""
    return gobuild.command(NAME, bootstrap, prefix, only)
