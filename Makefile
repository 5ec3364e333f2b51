# The two commands of the README: `make demo` runs LeanFlow, `make test` runs the tests.
# Each sets up .venv from the project's own files first.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install

$(BIN)/leanflow: setup.cfg pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/leanflow

install: $(BIN)/leanflow

demo: install
	$(BIN)/leanflow demo

lint: install
	$(BIN)/ruff check .

test: install lint
	$(BIN)/python -m pytest
