# The two commands: `make up` runs the local stack, `make test` runs every test. Each sets itself up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up demo test unit integration cluster-test fuzz lint install clean bench-queries bench-replay bench bench-mlflow web browser \
        bench-dashboard mlflow-rest-tests autolog-test

$(STAMP): pyproject.toml
	@command -v java >/dev/null || { echo "Java 17+ is needed for the local Kafka broker"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is needed to fetch the Kafka jars"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server,test]'
	touch $(STAMP)

install: $(STAMP)

# The dashboard's assets, built from web/ into the package (gitignored); rebuilt when a source changes.
WEB_BUILT := query_api/static/dashboard/index.html
WEB_SOURCES := web/package.json web/package-lock.json web/index.html web/vite.config.js $(wildcard web/src/*.* web/src/*/*.*)

$(WEB_BUILT): $(WEB_SOURCES)
	@command -v npm >/dev/null || { echo "Node.js 20+ and npm are needed to build the dashboard (web/)"; exit 1; }
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build
	touch $(WEB_BUILT)

web: $(WEB_BUILT)  ## build the dashboard served at /

up: $(STAMP) $(WEB_BUILT)  ## Kafka broker + API + projector on 127.0.0.1 (Ctrl-C stops everything)
	$(BIN)/runstream up

demo: $(STAMP) $(WEB_BUILT)  ## the same, plus a demo sweep and a leaderboard
	$(BIN)/runstream up --demo

lint: $(STAMP)
	$(BIN)/ruff check schemas producer consumers query_api runstream tests benchmarks
	$(BIN)/mypy schemas producer consumers query_api runstream
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

# Integration tests run in their own process: embedded ClickHouse allows one data path per process.
integration: $(STAMP)
	$(BIN)/pytest tests/integration -q --timeout=300 -m "not cluster and not lightning"

# mlflow.pytorch.autolog() with Lightning, runstream against a real MLflow server: torch is a few GB, so its own
# extra and target (CI runs it after make test).
AUTOLOG_STAMP := $(VENV)/.autolog-installed
$(AUTOLOG_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[server,test,autolog]'
	touch $(AUTOLOG_STAMP)

autolog-test: $(AUTOLOG_STAMP)  ## mlflow.pytorch.autolog with Lightning vs a real MLflow server (installs torch)
	$(BIN)/pytest tests/integration/test_mlflow_lightning.py -q -m lightning --timeout=900

# Three KRaft brokers from the same jars; the leader of a busy partition is killed mid-sweep (slow: run apart).
cluster-test: $(STAMP)
	$(BIN)/pytest tests/integration/test_cluster.py -q -s -m cluster --timeout=900

# Schemathesis over the OpenAPI schema of a running local stack: any 5xx fails (bounded examples).
fuzz: $(STAMP)
	$(BIN)/python tests/fuzz/api_fuzz.py --max-examples 30

# The dashboard in headless Chromium (Debian's package) against a real stack with a logged sweep.
# Debian's Chromium for the browser tests (registries only: no browser download), installed when missing.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "the browser tests need Chromium at $(CHROMIUM) (Debian: apt-get install chromium)"; exit 1; }
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

browser: $(STAMP) $(WEB_BUILT) $(CHROMIUM)
	RUNSTREAM_CHROMIUM=$(CHROMIUM) $(BIN)/pytest tests/browser -q --timeout=300

test: lint unit fuzz browser integration

clean:
	rm -rf $(VENV) .runstream

BENCH_STAMP := $(VENV)/.bench-installed
# make bench also leaves this many points waiting in Kafka and records the server's peak RSS while it catches up
# (issue 15: <= 1 GB with 10M); BENCH_BACKLOG=0 skips it (~3-5 min).
BENCH_BACKLOG ?= 10000000

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[server,test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)  ## runstream vs an MLflow server on the same machine (1M points, 10k runs, 10M backlog; see benchmarks/sweep.py)
	$(BIN)/python benchmarks/sweep.py --backlog $(BENCH_BACKLOG) $(BENCH_ARGS)

bench-queries: $(STAMP)  ## the query benchmark: 10,000 runs x 5 metrics x 1,000 steps, timed over HTTP
	$(BIN)/python benchmarks/queries.py

bench-dashboard: $(STAMP) $(WEB_BUILT) $(CHROMIUM)  ## the dashboard in Chromium over 10,000 runs: first screen, 20-run overlay
	$(BIN)/python benchmarks/dashboard.py

bench-replay: $(STAMP)  ## replay speed of rebuild/verify on a 5M-point log, against the live projector
	$(BIN)/python benchmarks/replay.py

# MLflow's own REST tests (tests/tracking/test_rest_tracking.py of a fetched MLflow source tree, never committed
# here) against a fresh runstream per test; counts per group land in conformance/last-report.json.
mlflow-rest-tests: $(STAMP)  ## MLflow's REST tests: make mlflow-rest-tests MLFLOW_SRC=<mlflow tree> [AGAINST=mlflow]
	@test -n "$(MLFLOW_SRC)" -a -f "$(MLFLOW_SRC)/tests/tracking/test_rest_tracking.py" || { \
	  echo "MLFLOW_SRC=<path of an MLflow source tree holding tests/tracking/test_rest_tracking.py> is needed"; exit 1; }
	cd "$(MLFLOW_SRC)" && PYTHONPATH="$(MLFLOW_SRC):$(CURDIR)/conformance:$(CURDIR)" "$(CURDIR)/$(BIN)/pytest" \
	  tests/tracking/test_rest_tracking.py -p mlflow_rest_plugin -p no:cacheprovider -q -o addopts="" \
	  --against=$(or $(AGAINST),runstream) \
	  --runstream-report="$(or $(REPORT),$(CURDIR)/conformance/last-report.json)" $(MLFLOW_TEST_ARGS) || true
	@$(BIN)/python -c "import json; print(json.dumps(json.load(open('$(or $(REPORT),conformance/last-report.json)'))['groups'], indent=1))"

bench-mlflow: $(BENCH_STAMP)  ## the unmodified mlflow client: a real MLflow server vs runstream's MLflow API
	$(BIN)/python benchmarks/mlflow_ingest.py $(BENCH_ARGS)
