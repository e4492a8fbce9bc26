# The project's vocabulary: make run, make test, make lint, make bench, make soak.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ASSETS := web/static/govuk/app.css
NODE   := node_modules/.package-lock.json
PYTEST_ARGS ?=

.PHONY: run test lint format bench soak venv assets deps clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  (echo "CME Gateway needs Python 3.11 or newer" && exit 1)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# assets.sh also installs node_modules (npm ci): axe-core there is what the browser tests inject.
$(ASSETS) $(NODE): package.json package-lock.json scripts/assets.sh $(wildcard web/assets/*)
	bash scripts/assets.sh

assets: $(ASSETS) $(NODE)

deps:
	bash scripts/install-deps.sh

# Quiet once set up: `cme run` itself says where the console is and how to sign in.
run: venv assets
	@$(BIN)/cme init > /dev/null
	@exec $(BIN)/cme run

test: venv deps assets
	$(BIN)/python -m pytest -n 2 --dist loadfile -q $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: venv deps assets
	BENCH_SPLINK_INSTALL=$${BENCH_SPLINK_INSTALL:-1} $(BIN)/python -m bench

soak: venv deps
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) node_modules web/static/govuk .pytest_cache .mypy_cache .ruff_cache
