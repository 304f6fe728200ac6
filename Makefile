# bdml — `make test` works from a fresh clone: it installs what is missing, starts the stack, then checks.
SHELL := /bin/bash
.DEFAULT_GOAL := help

BIN := .venv/bin
BDML := $(BIN)/bdml
PACKAGES := services hive streaming producers lambdas ml webapp deploy
# mypy rejects a folder that holds no Python file yet: check the packages that have code.
MYPY_PATHS = $(foreach p,$(PACKAGES),$(if $(shell find $(p) -name '*.py' -print -quit 2>/dev/null),$(p)))
PYTEST_ARGS ?=

.PHONY: help venv up down status demo test lint bench clean distclean

help:
	@echo "make venv      install what is missing (system packages, .venv)"
	@echo "make up|down|status   the embedded stack (MiniStack, MariaDB, PostgreSQL)"
	@echo "make demo      every pipeline on small data"
	@echo "make test      lint, type-check and the test suite (PYTEST_ARGS=... to narrow)"
	@echo "make lint      ruff and mypy only"
	@echo "make bench     benchmarks/{batch,stream,ml}.py: rows/s, records/s, accuracy, latency, memory"
	@echo "make clean     stop the stack, remove caches (distclean: also .venv and .bdml)"

venv:
	@bash scripts/bootstrap.sh

up: venv
	$(BDML) up

down:
	@if [ -x $(BDML) ]; then $(BDML) down; else echo "no .venv yet: nothing to stop"; fi

status:
	@test -x $(BDML) || { echo "no .venv yet: run make venv" >&2; exit 1; }
	$(BDML) status

demo: up
	$(BDML) demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy $(MYPY_PATHS)
	$(BIN)/lint-imports

test: up
	$(BIN)/ruff check .
	$(BIN)/mypy $(MYPY_PATHS)
	$(BIN)/lint-imports
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: up
	$(BIN)/python benchmarks/batch.py
	$(BIN)/python benchmarks/stream.py --rate 5000
	$(BIN)/python benchmarks/ml.py

clean: down
	@if [ -x $(BDML) ]; then $(BDML) clean; fi
	rm -rf .pytest_cache .mypy_cache .ruff_cache build *.egg-info metastore_db derby.log spark-warehouse
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf .venv .bdml
