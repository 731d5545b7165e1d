# The two commands the README promises: `make run` and `make test`.
# Everything else here is what they are made of.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run dev test services stop status lint venv bench browser fuzz

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (got %s); run: make PYTHON=python3.11 ..." % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

## make run: services, migrations, demo data, the API on http://127.0.0.1:8000 (background)
run: venv
	$(PY) -m scripts.app start

## make dev: the same with the Flask dev server in the foreground
dev: venv
	$(PY) -m scripts.app dev

## make test: the whole suite against the real services (own database, own index prefix)
test: venv browser
	$(PY) -m pytest

## make browser: Debian's chromium for the admin web's browser tests (apt-get when it is missing)
browser: venv
	$(PY) -m scripts.browser

## make services: start (or reuse) PostgreSQL and Elasticsearch
services: venv
	$(PY) -m scripts.services start

## make stop: stop the API, the indexer and the services the project started
stop:
	@if [ -x $(PY) ]; then $(PY) -m scripts.app stop; $(PY) -m scripts.services stop; fi

status: venv
	$(PY) -m scripts.services status

lint: venv
	$(VENV)/bin/ruff check .

## make bench: performance figures as JSON lines (docs/benchmarks.md); own scratch database and index prefix
bench: venv
	$(PY) -m bench.authz
	$(PY) -m bench.klassifikation
	$(PY) -m bench.organisation
	$(PY) -m bench.indexes
	$(PY) -m bench.distribution

## make fuzz: generated and mutated requests against the instance `make run` started; lists every 5xx
## answer (docs/operations.md). It writes junk data: run it on a scratch instance.
fuzz: .venv-fuzz/.installed
	.venv-fuzz/bin/python -m scripts.fuzz.run

.venv-fuzz/.installed: requirements-fuzz.txt
	$(PYTHON) -m venv .venv-fuzz
	.venv-fuzz/bin/pip install --quiet -r requirements-fuzz.txt
	touch $@
