# Everything a fresh machine with python3, make and git needs.
#   make run    set up, then run the main job (the example scenarios on SQLite)
#   make check  set up, then ruff, mypy --strict and the whole test suite (what CI runs)
#   make docs   regenerate docs/*.md, then build the rule site in build/site
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run check lint typecheck test bench clean postgres-binaries chromium docs docs-check mutate

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,postgres,docs]'
	touch $(STAMP)

# The PostgreSQL tests start a throwaway server from the Debian package's binaries.
postgres-binaries:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		true; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else \
		echo "PostgreSQL binaries missing: run 'sudo apt-get install postgresql'" >&2; exit 1; \
	fi

# The rule site's browser test opens it in the Debian package's headless Chromium; without
# it (and not root) the test skips, saying so.
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
		true; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "Chromium missing: the site's browser test will skip ('sudo apt-get install chromium')" >&2; \
	fi

# The main job: every example scenario on a fresh embedded SQLite store, narrated.
run: $(STAMP)
	$(VENV)/bin/skilltroc run --examples

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict src tests

test: $(STAMP) postgres-binaries chromium
	HYPOTHESIS_PROFILE=ci $(VENV)/bin/pytest -q

docs-check: $(STAMP)
	$(VENV)/bin/skilltroc docs --check

# The Markdown pages of docs/, then the rule site (open build/site/index.html).
docs: $(STAMP)
	$(VENV)/bin/skilltroc docs
	$(VENV)/bin/skilltroc docs --site build/site

check: lint typecheck docs-check test

# Mutation testing (not part of check: minutes per module). MODULES="ledger service/gifts"
# picks modules of mutation/targets.toml; the scores go to mutation/report.md.
mutate: $(STAMP)
	$(PY) -c "import cosmic_ray" 2>/dev/null || $(PY) -m pip install --quiet -e '.[dev,postgres,docs,mutation]'
	nice -n 19 $(PY) mutation/run.py $(MODULES)

bench: $(STAMP)
	$(VENV)/bin/skilltroc bench ledger
	$(VENV)/bin/skilltroc bench store

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
