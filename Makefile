# The two commands: `make up` runs the local stack, `make test` runs every test. Each sets itself up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up demo test unit integration fuzz lint install clean bench-queries bench-replay bench bench-mlflow

$(STAMP): pyproject.toml
	@command -v java >/dev/null || { echo "Java 17+ is needed for the local Kafka broker"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is needed to fetch the Kafka jars"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

up: $(STAMP)  ## Kafka broker + API + projector on 127.0.0.1 (Ctrl-C stops everything)
	$(BIN)/runstream up

demo: $(STAMP)  ## the same, plus a demo sweep and a leaderboard
	$(BIN)/runstream up --demo

lint: $(STAMP)
	$(BIN)/ruff check schemas producer consumers query_api tests benchmarks
	$(BIN)/mypy schemas producer consumers query_api

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

# Integration tests run in their own process: embedded ClickHouse allows one data path per process.
integration: $(STAMP)
	$(BIN)/pytest tests/integration -q --timeout=300

# Schemathesis over the OpenAPI schema of a running local stack: any 5xx fails (bounded examples).
fuzz: $(STAMP)
	$(BIN)/python tests/fuzz/api_fuzz.py --max-examples 30

test: lint unit fuzz integration

clean:
	rm -rf $(VENV) .runstream

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)  ## runstream vs an MLflow server on the same machine (1M points; see benchmarks/sweep.py)
	$(BIN)/python benchmarks/sweep.py $(BENCH_ARGS)

bench-queries: $(STAMP)  ## the query benchmark: 10,000 runs x 5 metrics x 1,000 steps, timed over HTTP
	$(BIN)/python benchmarks/queries.py

bench-replay: $(STAMP)  ## replay speed of rebuild/verify on a 5M-point log, against the live projector
	$(BIN)/python benchmarks/replay.py

bench-mlflow: $(BENCH_STAMP)  ## the unmodified mlflow client: a real MLflow server vs runstream's MLflow API
	$(BIN)/python benchmarks/mlflow_ingest.py $(BENCH_ARGS)
