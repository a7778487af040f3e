# Every target does its own set-up: a project-local uv, then the locked environment.
SHELL := /bin/bash
TOOLS := $(CURDIR)/.tools
UV_LOCAL := $(TOOLS)/bin/uv
UV := $(shell command -v uv 2>/dev/null || echo $(UV_LOCAL))
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON_PREFERENCE := only-system

.PHONY: setup compile test test-all lint run bench demo validate paper paper-smoke archive clean

$(UV_LOCAL):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv>=0.5,<1"

setup: $(if $(shell command -v uv 2>/dev/null),,$(UV_LOCAL))
	$(UV) sync --locked --quiet --compile-bytecode

# The exchange core compiled with mypyc, in place, where a C compiler is present; the sources run
# where there is none, or while the build is older than them (abm/compiled.py).
# ABM_COMPILE=0 skips it; `make compile-clean` removes it.
EXCHANGE_SOURCES := $(wildcard abm/exchange/*.py) abm/compiled.py tools/compile_core.py
abm/exchange/compiled.json: $(EXCHANGE_SOURCES)
	@if [ "$(ABM_COMPILE)" = 0 ]; then echo "ABM_COMPILE=0: the exchange core runs interpreted"; \
	elif command -v cc >/dev/null 2>&1; then $(UV) run --locked python tools/compile_core.py; \
	else echo "no C compiler (cc): the exchange core runs interpreted"; fi

compile: setup abm/exchange/compiled.json

compile-clean: setup
	$(UV) run --locked python tools/compile_core.py --clean

lint: setup
	$(UV) run --locked ruff check abm tests benchmarks tools paper
	$(UV) run --locked ruff format --check abm tests benchmarks tools paper

# The suite runs on the compiled core (where it was built); then the determinism and hostile-caller
# tests run again on the interpreted sources, and tests/test_compiled.py compares the two.
# `make test` leaves out the tests marked slow (multi-seed statistics, the paper's smoke build,
# the browser tests, killed sweeps, the wheel in a fresh venv); `make test-all` (what CI runs,
# .ci/run) runs everything. Both print their wall time.
PYTEST_FAST := -m "not slow"

test: lint compile
	@start=$$(date +%s); \
	$(UV) run --locked pytest $(PYTEST_FAST) && \
	ABM_INTERPRETED=1 $(UV) run --locked pytest $(PYTEST_FAST) tests/test_hostile.py tests/test_outputs.py; \
	status=$$?; echo "make test: tests took $$(( $$(date +%s) - start )) s (slow tests left out: make test-all)"; exit $$status

test-all: lint compile
	@start=$$(date +%s); \
	$(UV) run --locked pytest && \
	ABM_INTERPRETED=1 $(UV) run --locked pytest tests/test_hostile.py tests/test_outputs.py; \
	status=$$?; echo "make test-all: tests took $$(( $$(date +%s) - start )) s"; exit $$status

run: compile
	$(UV) run --locked abm run

demo: setup
	$(UV) run --locked abm demo

bench: compile
	$(UV) run --locked python benchmarks/run.py

# Validation: configs/validation.yaml (7 days, no shock) for each seed, at most VALIDATE_JOBS runs at
# a time, into results/validation/seed-N (logs beside them), then the pooled table against
# abm/analysis/bands.yaml. A quick look: make validate VALIDATE_HOURS=6 VALIDATE_SEEDS="1 2".
VALIDATE_SEEDS ?= 1 2 3 4 5
VALIDATE_HOURS ?=
VALIDATE_JOBS ?= 2
VALIDATE_DIR := results/validation

validate: compile
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

# The paper: its studies (configs/sweeps/, stores in results/sweeps/, complete runs kept), every
# number, table and figure, and paper/build/paper.pdf. PAPER_WORKERS processes at a time.
# paper-smoke builds the same pipeline on tiny studies into paper/build-smoke (tests run it).
PAPER_WORKERS ?= 2

paper: compile
	$(UV) run --locked python paper/build.py --workers $(PAPER_WORKERS)

paper-smoke: compile
	$(UV) run --locked python paper/build.py --smoke --workers $(PAPER_WORKERS)

# A citable bundle of the built paper for a data repository (the PDF, numbers, tables, figures,
# each study's sweep, catalogue and summary, the configs, versions and SHA-256 checksums):
# paper/build/archive/abm-paper-VERSION-COMMIT{,.zip}. Run make paper first.
archive:
	$(UV) run --locked python paper/archive.py

clean:
	rm -rf .venv $(TOOLS) .pytest_cache .ruff_cache .hypothesis build paper/build paper/build-smoke \
		abm/exchange/compiled.json
	find . -name '*.so' -not -path './.venv/*' -delete
