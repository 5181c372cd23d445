# `make demo` and `make test` are the two commands a newcomer needs; each sets up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/llm-incident demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

SHARED_SCENARIOS := $(wildcard ../shared/scenarios)

bench: $(STAMP)
	$(BIN)/python bench/accuracy.py scenarios $(SHARED_SCENARIOS)
	$(BIN)/python bench/evidence.py
	$(BIN)/python bench/slack.py
	$(BIN)/python bench/delivery.py
	$(BIN)/python bench/realdata.py
	$(BIN)/python bench/storm.py
	$(BIN)/python bench/agent.py scenarios
	$(BIN)/python bench/telemetry.py
	$(BIN)/python bench/spans.py
	$(BIN)/python bench/spans.py $(wildcard scenarios/*spans*.yaml scenarios/*agentcore*.yaml)
	$(BIN)/python bench/export.py scenarios $(SHARED_SCENARIOS)
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/recurrence.py scenarios
	$(BIN)/python bench/robustness.py scenarios $(SHARED_SCENARIOS) --save $(VENV)/robustness-cases.json
	$(BIN)/python bench/calibrate.py --cases $(VENV)/robustness-cases.json
	$(BIN)/python bench/accuracy.py --agent scenarios $(SHARED_SCENARIOS)

clean:
	rm -rf $(VENV) build *.egg-info
