# The playground's two everyday commands: `make run` and `make test`.
# Works from a fresh clone: the first target that needs Python creates .venv.

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Lives inside .venv, so deleting .venv also forgets that requirements were installed.
STAMP := $(VENV)/.stamp-requirements
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help run collectstatic superuser test lint pytest bench clean distclean venv conformance

help:
	@echo "make run     serve http://$(HOST):$(PORT) through Daphne (creates .venv, migrates,"
	@echo "             loads the built-in scenarios, collects the static files)"
	@echo "make collectstatic  static/ into staticfiles/: hashed names, .br and .gz copies"
	@echo "make superuser  an admin login for /admin/ (asks for a name and password)"
	@echo "make test    ruff check + the whole pytest suite"
	@echo "make lint    ruff check only"
	@echo "make bench   run every bench/*.py and print its figures"
	@echo "make conformance  every client program against Apache Kafka 4.x and the playground,"
	@echo "             compared; writes docs/COMPATIBILITY.md (needs Java, Maven, Go, Node)"
	@echo "make clean   remove caches; make distclean also removes .venv"

# Install requirements only when requirements.txt changed since the last install.
$(STAMP): requirements.txt
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "make: Python 3.11 or newer is needed (PY=$(PY))"; exit 1; }
	@# A venv whose pip is missing (python3-venv was not installed) is rebuilt, not reused.
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV); \
		$(PY) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "make: '$(PY) -m venv' failed; on Debian: apt-get install python3-venv"; exit 1; }; }
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	@touch $@

venv: $(STAMP)

# Kafka's murmur2 in C (broker_core/_murmur2.c: in Python it was a quarter of the producer hot
# path), built beside its source by setup.py when the .c is newer. The file name carries the
# interpreter's tag, so the venv's Python (PY before the venv exists) names it. Without a C
# compiler everything still runs: one line, and broker_core.partitioner uses its pure-Python
# murmur2 (same values, slower); tests/broker_core/test_partitioner.py fails where it could
# have been built. `touch`: setuptools copies the module with its time cut to whole seconds,
# which can leave it "older" than the .c, so rebuilt on every make.
MURMUR2_PY := $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PY))
MURMUR2_SO := broker_core/_murmur2$(shell $(MURMUR2_PY) -c \
	'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))' 2>/dev/null)
$(MURMUR2_SO): broker_core/_murmur2.c setup.py | $(STAMP)
	@mkdir -p build
	@$(BIN)/python setup.py -q build_ext --inplace >build/murmur2-build.log 2>&1 && touch $@ || \
		echo "make: broker_core/_murmur2.c not built (no C compiler?); murmur2 runs in pure Python: see build/murmur2-build.log"

# The page's CSS and JS as a server with DEBUG off sends them: content-hashed names, a .br and a
# .gz beside each, staticfiles.json (playground/storage.py), in STATIC_ROOT (gitignored).
# Redone only when something under static/ (a file, or a folder's entries) or the requirements
# (Django admin's files) changed since. DEBUG is not needed, only a settings file that loads
# without DJANGO_SECRET_KEY.
STATIC_ROOT_DIR := $(or $(DJANGO_STATIC_ROOT),staticfiles)
STATIC_MANIFEST := $(STATIC_ROOT_DIR)/staticfiles.json
$(STATIC_MANIFEST): $(STAMP) $(shell find static 2>/dev/null)
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py collectstatic --noinput -v0
	@touch $@

collectstatic: $(STATIC_MANIFEST)

# DEBUG is off unless asked for; `make run` is the local development server, so it asks.
run: export DJANGO_DEBUG ?= 1
run: $(STAMP) collectstatic $(MURMUR2_SO)
	$(BIN)/python manage.py migrate --noinput
	@# Built-ins follow their files in broker_core/scenarios/ (idempotent: unchanged, untouched).
	$(BIN)/python manage.py load_scenarios
	@# --nostatic: static files through playground/asgi.py (WhiteNoise) as on a server, not
	@# through runserver's own handler; with DEBUG it reads static/ afresh on each request.
	$(BIN)/python manage.py runserver_kafka --nostatic $(HOST):$(PORT)

# The admin's login, in the same environment as `make run` (DJANGO_DEBUG=1: with DEBUG off,
# settings want a DJANGO_SECRET_KEY, and a bare `manage.py createsuperuser` stopped there).
# Migrates first, so it works before the first `make run` too. ARGS go to createsuperuser,
# e.g. ARGS=--noinput with DJANGO_SUPERUSER_USERNAME, _EMAIL and _PASSWORD set.
superuser: export DJANGO_DEBUG ?= 1
superuser: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createsuperuser $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# axe-core for the browser's accessibility tests (package.json, a test-only dev dependency):
# installed when npm is there; without it those tests are skipped (and fail under CI=true).
AXE := node_modules/axe-core/axe.min.js
$(AXE): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "make: npm not found: the accessibility tests will be skipped"; fi

pytest: $(STAMP) $(AXE) $(MURMUR2_SO)
	$(BIN)/python -m pytest tests

test: lint pytest

# bench/ws_fanout.py runs Daphne with DEBUG off, which serves the collected static files.
bench: $(STAMP) collectstatic $(MURMUR2_SO)
	@set -e; found=0; for f in bench/*.py; do \
		[ -e "$$f" ] || continue; found=1; \
		echo "== $$f"; $(BIN)/python "$$f"; \
	done; [ $$found = 1 ] || echo "no benchmarks in bench/ yet"

# Apache Kafka 4.x (server, kafka-clients, kafka-tools from Maven Central, cached in .cache/)
# in KRaft mode and the playground, the same client programs against both, compared
# (conformance/run.py): fails on any difference conformance/differences.py does not list.
conformance: $(STAMP) $(MURMUR2_SO)
	$(BIN)/python -m conformance.run

clean:
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache .hypothesis staticfiles build broker_core/_murmur2*.so

distclean: clean
	rm -rf $(VENV) .cache conformance/clients/kafkajs/node_modules
