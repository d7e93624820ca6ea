# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
BASE   := $(VENV)/.installed-base
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast bench lint format docs docs-update clean

# The demo needs only the package; the suite adds the dev tools and the Spark and ModelScope extras.
$(BASE): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $(BASE)

$(STAMP): $(BASE)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark,modelscope]'
	touch $(STAMP)

demo: $(BASE)
	$(BIN)/hubpulse demo --warehouse .hubpulse-demo

# The whole suite (what CI runs); test-fast leaves out the slow, Spark, browser and docs tiers
# (markers in pyproject.toml) for the loop while working.
test: $(STAMP) lint
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not spark and not browser and not docs"

# CI-sized benchmark table (a few minutes), recorded in BENCHMARKS.md; `python -m bench --full`
# runs the whole Hub (3.5M models, 175M daily rows).
bench: $(STAMP)
	$(BIN)/python -m bench --record

# The documentation site (MkDocs) into site/; its console examples are written by running the
# commands (cog): `make docs-update` rewrites them, the suite checks them (tests/test_docs.py).
DOCS := README.md docs/*.md

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

docs-update: $(STAMP)
	$(BIN)/cog -r -I tests -p "from docsgen import *" $(DOCS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) .hubpulse-demo .pytest_cache site
