# The two commands of the README: `make demo` runs LeanFlow, `make test` runs the tests.
# Each sets up .venv from the project's own files first. `make test` also installs what the browser tests need
# (tests/browser): Debian's Chromium, its driver and a CJK font when missing, and bpmn-js from package-lock.json.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Playwright drives /usr/bin/chromium and never downloads a browser; the font draws the procedures' Chinese labels.
DEBIAN_BROWSER := chromium chromium-driver fonts-noto-cjk

.PHONY: demo test lint install browser

$(BIN)/leanflow: setup.cfg pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,mining]'
	touch $(BIN)/leanflow

install: $(BIN)/leanflow

# Only the Debian packages that are missing, as root; elsewhere the browser tests skip (and fail under CI=true).
browser: node_modules/.package-lock.json
	@missing=$$(for p in $(DEBIAN_BROWSER); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "browser tests: missing Debian packages" $$missing "(installing them needs root and apt-get)"; exit 0; fi; \
	echo "browser tests: installing Debian packages" $$missing; \
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y -o Dpkg::Use-Pty=0 $$missing

# bpmn-js and nothing else (package.json's devDependencies), exactly as package-lock.json pins it.
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --include=dev --no-audit --no-fund && touch $@; \
	else echo "browser tests: npm is missing, so bpmn-js is not installed"; fi

demo: install
	$(BIN)/leanflow demo

lint: install
	$(BIN)/ruff check .

test: install browser lint
	$(BIN)/python -m pytest
