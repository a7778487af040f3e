# Every target does its own set-up: a project-local uv, then the locked environment.
SHELL := /bin/bash
TOOLS := $(CURDIR)/.tools
UV_LOCAL := $(TOOLS)/bin/uv
UV := $(shell command -v uv 2>/dev/null || echo $(UV_LOCAL))
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON_PREFERENCE := only-system

.PHONY: setup test lint run bench demo validate clean

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

# Validation: configs/validation.yaml (72 h, no shock) for each seed, at most VALIDATE_JOBS runs at
# a time, into results/validation/seed-N (logs beside them), then the pooled table against
# abm/analysis/bands.yaml. A quick look: make validate VALIDATE_HOURS=6 VALIDATE_SEEDS="1 2".
VALIDATE_SEEDS ?= 1 2 3 4 5
VALIDATE_HOURS ?=
VALIDATE_JOBS ?= 2
VALIDATE_DIR := results/validation

validate: setup
	@mkdir -p $(VALIDATE_DIR)
	@printf '%s\n' $(VALIDATE_SEEDS) | xargs -P $(VALIDATE_JOBS) -I{} sh -c '\
		echo "seed {}: abm run configs/validation.yaml -> $(VALIDATE_DIR)/seed-{} (log: seed-{}.log)"; \
		$(UV) run --locked abm run configs/validation.yaml --seed {} \
			--out $(VALIDATE_DIR)/seed-{} --overwrite \
			$(if $(VALIDATE_HOURS),--set run.hours=$(VALIDATE_HOURS)) \
			> $(VALIDATE_DIR)/seed-{}.log 2>&1 \
		|| { echo "seed {} failed: see $(VALIDATE_DIR)/seed-{}.log"; exit 255; }'
	$(UV) run --locked abm validate $(foreach seed,$(VALIDATE_SEEDS),$(VALIDATE_DIR)/seed-$(seed)) \
		--out $(VALIDATE_DIR)/validation.json

clean:
	rm -rf .venv $(TOOLS) .pytest_cache .ruff_cache .hypothesis
