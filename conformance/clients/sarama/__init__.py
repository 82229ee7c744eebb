"""The IBM/sarama conformance program (sarama v1.61.1: producers, consumer groups,
ClusterAdmin; main.go beside this file), built once into .cache/conformance/bin/ by
conformance/clients/gobuild.py and run with the contract's command line:

    python -m conformance.clients.sarama --bootstrap HOST:PORT --prefix PREFIX [--only CHECKS]
"""

from conformance.clients import gobuild

NAME = "sarama"


def build():
    return gobuild.build(NAME)


def command(bootstrap: str, prefix: str, only: str | None = None) -> list[str]:
    """The argv that runs the checks (builds first when needed)."""
    return gobuild.command(NAME, bootstrap, prefix, only)
