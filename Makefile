# Two commands set everything up: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= $(shell command -v python3.11 || command -v python3)
PORT ?= 8000
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# Schema and static checks run on an in-memory SQLite whatever DATABASE_URL says, so the
# generated schema (which states integer ranges) is the same on every machine.
CHECK_ENV := DJANGO_SETTINGS_MODULE=alignment_service.test_settings DATABASE_URL=sqlite:///:memory:

.PHONY: install run superuser test check-browser check-clients chaos bench lint format schema check-schema check-migrations check-deploy clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $@

# Development defaults (for `make run` and `make superuser`); anything already set in the
# environment wins.
run superuser: export DJANGO_DEBUG ?= true
run superuser: export DJANGO_SECRET_KEY ?= dev-only-insecure-secret-key-never-use-in-production
run superuser: export WEBHOOK_ALLOW_PRIVATE_URLS ?= true
run: export GUNICORN_RELOAD ?= true
run: export PORT := $(PORT)
run: install
	mkdir -p var/broker/queue var/broker/processed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py load_demo
	@echo ""
	@echo "  All-hands: http://127.0.0.1:$(PORT)/orgs/lumen-games/ (sign in: demo / demo-password-2026)"
	@echo "  API docs:  http://127.0.0.1:$(PORT)/api/docs/"
	@echo "  Admin:     http://127.0.0.1:$(PORT)/admin/ (create a login: make superuser)"
	@echo "  Stop everything with Ctrl-C."
	@echo ""
	$(BIN)/honcho --procfile Procfile.dev start --port $(PORT)

# An admin login for the development database, with the same settings as `make run`.
superuser: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createsuperuser

test: install
	$(BIN)/pytest

# The browser test for real: Playwright drives the system's Chromium against a live server that
# the test starts on 127.0.0.1 and stops; axe-core comes from npm. Missing pieces fail here.
check-browser: install
	test -f node_modules/axe-core/axe.min.js || npm ci --no-audit --no-fund
	REQUIRE_BROWSER=1 $(BIN)/pytest tests/browser -p no:cacheprovider

# Fault scenarios against private PostgreSQL, Redis, gunicorn and Celery processes (never the
# machine's shared servers); needs root (PostgreSQL runs as the postgres user). A subset:
# `make chaos SCENARIOS="redis-frozen load"`.
chaos: install
	$(BIN)/python -m tests.chaos $(SCENARIOS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(CHECK_ENV) $(BIN)/mypy .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: install
	$(CHECK_ENV) $(BIN)/python manage.py spectacular --validate --fail-on-warn --file openapi.yaml

check-schema: install
	mkdir -p var
	$(CHECK_ENV) $(BIN)/python manage.py spectacular --validate --fail-on-warn --file var/openapi.generated.yaml
	diff -u openapi.yaml var/openapi.generated.yaml || (echo "openapi.yaml is out of date: run 'make schema'" && exit 1)

# Clients generated from openapi.yaml compile (TypeScript) and work against a live server
# (Python); redocly lint passes. Needs node/npm; tools are pinned under clients/.
check-clients: install
	PYTHON=$(BIN)/python bin/check-clients

check-migrations: install
	$(CHECK_ENV) $(BIN)/python manage.py makemigrations --check --dry-run

check-deploy: install
	DJANGO_SECRET_KEY=$$(openssl rand -hex 40) DJANGO_ALLOWED_HOSTS=alignment.example.com \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

# The benchmark against hand-written references (bench/, docs/performance.md) on the machine's
# PostgreSQL and Redis (BENCH_DATABASE_URL, BENCH_REDIS_URL; `make bench ARGS=--quick` for a small
# organization), where a full rescore's time goes (bench/rescore_floor.py), then the detection
# benchmark (bench/detection.py) with the default 28-day trend and a two-week one.
bench: install
	$(BIN)/python -m bench $(ARGS)
	$(BIN)/python -m bench.rescore_floor
	$(BIN)/python -m bench.detection --size 300
	$(BIN)/python -m bench.detection --size 300 --forecast-window-days 14

clean:
	rm -rf $(VENV) var
