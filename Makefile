# One entry point per task; CI calls these same targets (.ci/run -> make test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean docs docs-serve dist smoke-wheel

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Serves QR Event and FormEase on a fresh SQLite file, seeded through the API.
# From the checkout: the apps are examples run from here, not part of the wheel.
demo: $(STAMP)
	$(BIN)/python -m apps.demo

test: $(STAMP)
	scripts/ensure-chromium
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src apps tests benchmarks examples docs/gen_reference.py
	$(BIN)/ruff format --check src apps tests benchmarks examples docs/gen_reference.py
	$(BIN)/mypy
	$(BIN)/lint-imports

# The documentation site, built offline; --strict turns every warning (a broken link,
# a missing reference) into a failure. Reference pages are generated from the code.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --strict --dev-addr 127.0.0.1:8001

# The artefacts a deployment installs: the wheel and the sdist in dist/, built offline
# by this venv's hatchling (no build isolation, no index). The Dockerfile installs the wheel.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/hatchling build -t wheel -t sdist -d dist

# The built wheel in a fresh venv, served once (what CI checks after make dist).
smoke-wheel:
	PYTHON=$(PYTHON) scripts/smoke-wheel dist

bench: $(STAMP)
	$(BIN)/python benchmarks/eventstore.py --quick
	$(BIN)/python benchmarks/jobs.py --quick
	$(BIN)/python benchmarks/backup.py --quick
	$(BIN)/python benchmarks/erasure.py --quick
	$(BIN)/python benchmarks/production.py --quick
	$(BIN)/python benchmarks/qrevent.py --quick

clean:
	rm -rf $(VENV) var site dist .pytest_cache .mypy_cache .ruff_cache
