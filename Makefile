# cfha: the two commands a new user runs are `make demo` and `make test`.
# Everything else here is for developers; `make help` lists it.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
DEMO_ARGS ?=
# The lab's PostgreSQL major for lab-up, test-lab, e2e and demo: 15 unless PG=18 (CFHA_LAB_PG).
PG ?=
LAB_PG := $(if $(PG),CFHA_LAB_PG=$(PG))

.PHONY: help deps venv lint test test-fast test-lab test-pg18 demo demo-down lab-up lab-status \
        lab-down docs dashboards bench e2e clean

help:
	@echo "make demo        set everything up and run cfha on the built-in lab cluster"
	@echo "make test        set everything up and run the whole test suite (lint, types, tests)"
	@echo "make test-fast   only the tests that need no live lab cluster"
	@echo "make test-lab    only the live-lab tests (PG=18: on a PostgreSQL 18 lab)"
	@echo "make test-pg18   what make test runs on a PostgreSQL 18 lab (marker pg18)"
	@echo "make e2e         the self-healing scenario matrix on the lab (report in artifacts/)"
	@echo "make lab-up | lab-status | lab-down   the two-hub lab cluster (lab-up PG=18)"
	@echo "                 PG=18 on lab-up, test-lab, e2e, demo: the lab runs PostgreSQL 18"
	@echo "make docs        regenerate docs/metrics.md (both services) and docs/verdict.md from the code"
	@echo "make dashboards  regenerate the Grafana dashboards (dashboards/*.json)"
	@echo "make bench       run the benchmarks (ratios against baselines measured in the same run)"

deps:
	@scripts/ensure-debs

# pip's and setuptools' output only when the install fails (scripts/quietly).
$(STAMP): pyproject.toml
	@scripts/quietly "venv: installing cfha and its test tools into $(VENV)" sh -c '\
	  { test -x $(VPY) || $(PYTHON) -m venv $(VENV); } && \
	  $(VPY) -m pip install --disable-pip-version-check --upgrade pip && \
	  $(VPY) -m pip install --disable-pip-version-check -e ".[test,dashboards]"'
	@touch $(STAMP)

venv: $(STAMP)
	@:

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The whole suite with the lab on PostgreSQL 15, then the tests marked pg18 (the layout and two
# re-sync scenarios, see docs/e2e.md) on a PostgreSQL 18 lab; both run even if the first fails.
# pytest's 5 (nothing selected, when PYTEST_ARGS names no pg18 test) is not a failure.
test: deps venv lint
	@status=0; \
	CFHA_LAB_PG=15 $(VPY) -m pytest --durations=25 $(PYTEST_ARGS) || status=1; \
	CFHA_LAB_PG=18 $(VPY) -m pytest -m pg18 --durations=25 $(PYTEST_ARGS) || [ $$? -eq 5 ] \
	  || status=1; \
	exit $$status

test-pg18: deps venv
	CFHA_LAB_PG=18 $(VPY) -m pytest -m pg18 $(PYTEST_ARGS)

test-fast: venv
	$(VPY) -m pytest -m "not lab and not e2e" $(PYTEST_ARGS)

test-lab: deps venv
	$(LAB_PG) $(VPY) -m pytest -m "lab or e2e" $(PYTEST_ARGS)

docs: venv
	$(VPY) -m servicekit.metrics_reference > docs/metrics.md
	$(VPY) -m exporter.collectors.verdict_reasons > docs/verdict.md

dashboards: venv
	$(VPY) -m dashboards.build

e2e: deps venv
	$(LAB_PG) $(VPY) -m pytest -m e2e tests/e2e $(PYTEST_ARGS)

demo: deps venv
	@$(LAB_PG) $(VPY) -m lab.product.demo $(DEMO_ARGS)

demo-down: venv
	@$(VPY) -m lab.product.demo --down

lab-up: deps venv
	$(LAB_PG) $(VPY) -m lab up

lab-status: venv
	$(VPY) -m lab status

lab-down: venv
	$(VPY) -m lab down

bench: deps venv
	$(VPY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
