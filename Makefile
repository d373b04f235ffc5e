# Firebreak. `make run` to try it, `make test` to check it. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?= -n 2

# Test defaults: the local PostgreSQL and Redis on their standard ports.
TEST_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/firebreak)
TEST_BROKER_URL ?= $(or $(CELERY_BROKER_URL),redis://127.0.0.1:6379/1)

# The application's code for bandit (tests and benchmarks are not shipped).
BANDIT_PATHS := servicedesk skills procedures incidents reporting manage.py

.PHONY: help install system-deps run test lint bench bench-data bench-api bench-inprocess bench-engine bench-metrics bench-ui bench-inbound bench-mail bench-status bench-peer bench-soak clean

help:
	@echo "make run      set everything up and start web, worker and beat (embedded defaults)"
	@echo "make test     set everything up and run ruff, import-linter, the migrations check, bandit and the test suite"
	@echo "make install  create .venv and install the pinned dependencies"
	@echo "make bench    run the benchmarks in benchmarks/ (needs PostgreSQL and redis-server)"

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@py="$(PYTHON)"; \
	if [ -z "$$py" ]; then \
	  for c in python3.14 python3.13 python3.12 python3; do \
	    if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then py=$$c; break; fi; \
	  done; \
	fi; \
	if [ -z "$$py" ]; then \
	  echo "Firebreak needs Python 3.12 or newer, and none was found on PATH." >&2; \
	  echo "Install one, or name it: make $(MAKECMDGOALS) PYTHON=/path/to/python3.12" >&2; exit 1; \
	fi; \
	if ! $$py -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
	  echo "$$py is Python $$($$py -c 'import platform; print(platform.python_version())'); Firebreak needs 3.12 or newer." >&2; exit 1; \
	fi; \
	if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then rm -rf $(VENV); fi; \
	[ -x $(PY) ] || { echo "Creating $(VENV) with $$py"; $$py -m venv $(VENV); } || exit 1; \
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip && \
	$(PY) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))' > $(VENV)/requirements.txt && \
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -r $(VENV)/requirements.txt && \
	touch $(STAMP)

# Debian packages the tests drive (.ci/apt-packages) and the npm packages of the browser
# tests (tests/browser/package-lock.json). Installed when missing and we are root;
# otherwise a notice, and the tests that need them skip (CI fails them instead).
APT_PACKAGES := $(shell sed -e 's/\#.*//' .ci/apt-packages)
system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian packages: $$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null) \
	      || echo "NOTICE: could not install $$missing; the tests that need them will skip (CI fails them)."; \
	  else \
	    echo "NOTICE: missing Debian packages: $$missing (install them as root); the tests that need them will skip."; \
	  fi; \
	fi
	@if [ -f tests/browser/package-lock.json ]; then \
	  if ! command -v npm >/dev/null; then echo "NOTICE: npm is missing; the accessibility checks will skip."; \
	  elif [ ! -d tests/browser/node_modules ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then \
	    npm ci --prefix tests/browser --no-audit --no-fund --silent || echo "NOTICE: npm ci failed; the accessibility checks will skip."; \
	  fi; \
	fi

run: install
	@export DEBUG=$${DEBUG:-true}; \
	$(PY) manage.py migrate --noinput -v0 && \
	$(PY) manage.py seed_demo && \
	exec $(PY) manage.py runstack

lint: install
	$(BIN)/ruff check .

test: install system-deps
	@export DATABASE_URL="$(TEST_DATABASE_URL)" CELERY_BROKER_URL="$(TEST_BROKER_URL)" \
	  SECRET_KEY=$${SECRET_KEY:-test-secret-key-not-for-production} DEBUG=false EMAIL_HOST= ; \
	set -e; \
	echo "== ruff"; $(BIN)/ruff check .; \
	echo "== import-linter (the layers)"; $(BIN)/lint-imports --no-cache; \
	echo "== makemigrations --check"; DATABASE_URL=sqlite:///:memory: $(PY) manage.py makemigrations --check --dry-run; \
	echo "== bandit (the application's code; tests and benchmarks excluded)"; $(BIN)/bandit -q -r $(BANDIT_PATHS); \
	echo "== pytest"; $(BIN)/pytest $(PYTEST_ARGS)

# Benchmarks build and query a million incidents: no statement timeout (DB_STATEMENT_TIMEOUT=0).
# The API benchmarks run on a data set of BENCH_INCIDENTS (a million: firebreak_bench_1m,
# built once with COPY and reused; see benchmarks/README.md).
BENCH_INCIDENTS ?= 1000000
BENCH_ENV = export DATABASE_URL="$(TEST_DATABASE_URL)" SECRET_KEY=$${SECRET_KEY:-bench-secret-key} DEBUG=false DB_STATEMENT_TIMEOUT=0 \
	  ALLOWED_HOSTS=127.0.0.1 API_THROTTLE_RATE=off EMAIL_HOST=
bench: bench-api bench-inprocess bench-engine bench-metrics bench-ui bench-inbound bench-mail bench-status bench-peer bench-soak

bench-data: install
	@$(BENCH_ENV); $(PY) benchmarks/run.py --incidents $(BENCH_INCIDENTS) --prepare-only

bench-api: install
	@$(BENCH_ENV); $(PY) benchmarks/run.py --incidents $(BENCH_INCIDENTS)

bench-inprocess: bench-data
	@$(BENCH_ENV); $(PY) benchmarks/inprocess.py --incidents $(BENCH_INCIDENTS)

bench-engine: install
	@export DATABASE_URL="$(TEST_DATABASE_URL)" SECRET_KEY=$${SECRET_KEY:-bench-secret-key} DEBUG=false DB_STATEMENT_TIMEOUT=0; \
	$(PY) benchmarks/engine.py $(BENCH_ENGINE_ARGS)

bench-metrics: install
	@export DATABASE_URL="$(TEST_DATABASE_URL)" SECRET_KEY=$${SECRET_KEY:-bench-secret-key} DEBUG=false DB_STATEMENT_TIMEOUT=0; \
	$(PY) benchmarks/metrics.py --plans $(BENCH_METRICS_ARGS)

bench-ui: bench-data
	@$(BENCH_ENV); $(PY) benchmarks/ui.py --incidents $(BENCH_INCIDENTS) $(BENCH_UI_ARGS)

bench-inbound: install
	@export DATABASE_URL="$(TEST_DATABASE_URL)" SECRET_KEY=$${SECRET_KEY:-bench-secret-key} DEBUG=false DB_STATEMENT_TIMEOUT=0; \
	$(PY) benchmarks/inbound.py

# Needs Debian's dovecot-imapd (make system-deps).
bench-mail: install
	@export DATABASE_URL="$(TEST_DATABASE_URL)" CELERY_BROKER_URL="$(TEST_BROKER_URL)" SECRET_KEY=$${SECRET_KEY:-bench-secret-key} DEBUG=false DB_STATEMENT_TIMEOUT=0; \
	$(PY) benchmarks/mail.py

bench-status: install
	@export DATABASE_URL="$(TEST_DATABASE_URL)" SECRET_KEY=$${SECRET_KEY:-bench-secret-key} DEBUG=false DB_STATEMENT_TIMEOUT=0; \
	$(PY) benchmarks/status.py

# Side by side with django-helpdesk (benchmarks/peer.py installs it in var/bench-peer/ with
# pip): the same scenarios, data size, workers and load, interleaved. 100,000 tickets each
# unless BENCH_PEER_INCIDENTS says otherwise.
BENCH_PEER_INCIDENTS ?= 100000
bench-peer: install
	@$(BENCH_ENV); $(PY) benchmarks/run.py --incidents $(BENCH_PEER_INCIDENTS) --peer helpdesk

# Ten minutes of mixed API traffic on the bench data set; each web worker's RSS over time.
bench-soak: bench-data
	@$(BENCH_ENV); $(PY) benchmarks/soak.py --incidents $(BENCH_INCIDENTS) $(BENCH_SOAK_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
