# The two commands of the README. Both work on a fresh machine with Python 3.10+.
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve test test-fast test-e2e lint clean

$(VENV)/.installed-runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed-runtime
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

## make run: install, migrate, collect static files and serve on http://127.0.0.1:8000
run: $(VENV)/.installed-runtime
	$(VENV)/bin/python manage.py migrate --noinput
	$(VENV)/bin/python manage.py collectstatic --noinput --verbosity 0
	@echo "minimax-web on http://$(HOST):$(PORT)/  (first visit: create the admin account)"
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) minimax_web.asgi:application

## make serve: one Daphne process per core behind one port (set REDIS_URL; PostgreSQL advised)
## PROCESSES=N overrides the count (default: WEB_PROCESSES, else the usable cores)
serve: $(VENV)/.installed-runtime
	$(VENV)/bin/python manage.py migrate --noinput
	$(VENV)/bin/python manage.py collectstatic --noinput --verbosity 0
	$(VENV)/bin/python -m minimax_web.serve --host $(HOST) --port $(PORT) $(if $(PROCESSES),--processes $(PROCESSES),)

## make test: install dev dependencies and run every test, browser tests included
test: $(VENV)/.installed-dev
	$(VENV)/bin/python -m pytest --ignore=tests/e2e
	$(VENV)/bin/python -m pytest tests/e2e

test-fast: $(VENV)/.installed-dev
	$(VENV)/bin/python -m pytest --ignore=tests/e2e -x

test-e2e: $(VENV)/.installed-dev
	$(VENV)/bin/python -m pytest tests/e2e

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
