# Every target does its own set-up: a project-local uv, then the locked environment.
SHELL := /bin/bash
TOOLS := $(CURDIR)/.tools
UV_LOCAL := $(TOOLS)/bin/uv
UV := $(shell command -v uv 2>/dev/null || echo $(UV_LOCAL))
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON_PREFERENCE := only-system

.PHONY: setup test lint run bench demo clean

$(UV_LOCAL):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv>=0.5,<1"

setup: $(if $(shell command -v uv 2>/dev/null),,$(UV_LOCAL))
	$(UV) sync --locked --quiet

lint: setup
	$(UV) run --locked ruff check abm tests benchmarks
	$(UV) run --locked ruff format --check abm tests benchmarks

test: lint
	$(UV) run --locked pytest

run: setup
	$(UV) run --locked abm run

demo: setup
	$(UV) run --locked abm demo

bench: setup
	$(UV) run --locked python benchmarks/run.py

clean:
	rm -rf .venv $(TOOLS) .pytest_cache .ruff_cache .hypothesis
