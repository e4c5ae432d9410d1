# Every target makes (or reuses) its own virtualenv, so a fresh clone needs only Python 3.11 and make.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo sandbox test lint bench wheel-check proof clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (or: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m daemon.demo
	$(BIN)/python -m daemon.demo_tharstern

# The daemon and the sandboxes left running for the CLI, driven from a prompt, until Ctrl-C.
sandbox: $(STAMP)
	$(BIN)/python -m daemon.testing.sandbox_session

test: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit tests/integration tests/providers tests/storefronts

# The built wheel in a clean venv without the test extras: check-config, install-files, and a
# daemon pushing one order into the Pace sandbox (tests/package/test_wheel.py). Run by CI.
wheel-check: $(STAMP)
	$(BIN)/python -m pytest -q -s tests/package

# The standing reliability proof (issue 12): crash loop, webhook fuzz and HTTP abuse, hostile
# MIS, operator socket abuse, full disk, and the harness's self-test; figures as JSON, exit 1 on
# a broken promise (tests/proof/__main__.py; sizes are environment overrides). Run by CI.
proof: $(STAMP)
	$(BIN)/python -m tests.proof

lint: $(STAMP)
	$(BIN)/ruff check daemon tests
	$(BIN)/ruff format --check daemon tests
	$(BIN)/mypy --strict daemon tests

bench: $(STAMP)
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
