"""Builds broker_core/_murmur2.c (Kafka's murmur2 in C) beside its source, and nothing else.

    .venv/bin/python setup.py -q build_ext --inplace

`make run`, `make test` and `make bench` do this when the .c is newer than the built module.
The project is not an installable package: this file exists only for that one command, so it
names no packages (naming none also stops setuptools from searching the tree for them).
Without a C compiler the build fails and broker_core.partitioner uses its pure-Python murmur2.
"""

from setuptools import Extension, setup

setup(
    packages=[],
    py_modules=[],
    ext_modules=[Extension("broker_core._murmur2", ["broker_core/_murmur2.c"])],
)
