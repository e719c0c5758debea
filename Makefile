# Everything a fresh machine with python3, make and git needs.
#   make run    set up, then run the main job
#   make check  set up, then ruff, mypy --strict and the whole test suite (what CI runs)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run check lint typecheck test bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/skilltroc demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict src tests

test: $(STAMP)
	HYPOTHESIS_PROFILE=ci $(VENV)/bin/pytest -q

check: lint typecheck test

bench: $(STAMP)
	$(VENV)/bin/skilltroc bench ledger

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
