# Two entry points a new user needs: `make plan` (the main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STACK  ?= aws-dev
PROJECT ?= .
STAMP  := $(VENV)/.installed

.PHONY: plan test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test,dvc]'
	touch $(STAMP)

plan: $(STAMP)
	$(BIN)/mlops-iac plan --stack $(STACK) --project $(PROJECT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV)
