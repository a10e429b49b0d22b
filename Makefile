# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv and install into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test chromium lsp constraints lint-specs schema rules-table bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Both install the versions of constraints.txt: those the whole suite last passed with (see tools/constraints.py).
$(VENV)/.installed-tf: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e ".[tf]"
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(VENV)/.installed-tf $@

## demo: install modelspec with TensorFlow, build specs/mlp.yaml and print its summary
demo: $(VENV)/.installed-tf
	$(BIN)/modelspec build specs/mlp.yaml

## test: install the test extras (at the versions of constraints.txt), chromium and yaml-language-server (`make lsp`),
## check lint and format (ruff), run the whole
## test suite, then the TensorFlow-free tests on Python 3.10 and 3.13 (nox). Where python3.10 and python3.13 are pyenv shims, they run only the versions
## pyenv has selected: the newest installed 3.10 and 3.13 are selected too, after the current one.
test: $(VENV)/.installed-test chromium lsp
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest
	@if [ -z "$${PYENV_VERSION:-}" ] && command -v pyenv >/dev/null 2>&1; then \
	    PYENV_VERSION="$$(pyenv version-name):$$(pyenv latest 3.10):$$(pyenv latest 3.13)"; export PYENV_VERSION; \
	fi; echo "$(BIN)/nox"; $(BIN)/nox

## chromium: install Debian's chromium, which the browser test of `modelspec graph` drives headless (apt-get, only when
## `chromium` is not on PATH; through sudo when not root)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	    SUDO="$$(test "$$(id -u)" = 0 || echo sudo)"; \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; \
	}

## lsp: install yaml-language-server (the engine of VS Code's YAML extension), at the version of
## tools/lsp/package-lock.json, into tools/lsp/node_modules for tests/test_lsp.py (npm ci; needs node and npm)
lsp: tools/lsp/node_modules/.installed

tools/lsp/node_modules/.installed: tools/lsp/package.json tools/lsp/package-lock.json
	cd tools/lsp && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## constraints: rewrite constraints.txt from .venv, after a passing `make test` (`.venv/bin/nox -s newest` first runs
## the suite on the newest releases, and names the packages that moved)
constraints: $(VENV)/.installed-test
	$(BIN)/python tools/constraints.py

## schema: regenerate modelspec.schema.json (a test checks it is up to date)
schema: $(VENV)/.installed-tf
	$(BIN)/modelspec schema -o modelspec.schema.json

## lint-specs: lint the example specs (never imports TensorFlow)
lint-specs: $(BIN)/python
	$(BIN)/modelspec lint specs/

## rules-table: regenerate the README's rules table and docs/rules.md from the rule registry (a test checks them)
rules-table: $(BIN)/python
	$(BIN)/python -m modelspec.linter.docs README.md

## bench: run the benchmarks
bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/build_overhead.py
	$(BIN)/python benchmarks/validate_speed.py
	$(BIN)/python benchmarks/lint_speed.py
	$(BIN)/python benchmarks/weights_load.py
	$(BIN)/python benchmarks/train_overhead.py
	$(BIN)/python benchmarks/import_roundtrip.py
	$(BIN)/python benchmarks/export_overhead.py
	$(BIN)/python benchmarks/probe_compare.py
	$(BIN)/python benchmarks/distribute_overhead.py
	$(BIN)/python benchmarks/tune_overhead.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
