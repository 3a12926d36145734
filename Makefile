# Two entry points a new user needs: `make plan` (the main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STACK  ?= aws-dev
PROJECT ?= .
BENCH_ARGS ?=
STAMP  := $(VENV)/.installed

.PHONY: plan test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[all,test,dvc]'
	# Azurite (npm) for the dvc-azure round trip, into .cache/azurite (the test retries, then skips).
	-$(BIN)/python -c 'from mlops_iac.components.testing.emulators import azurite_binary as a; a()'
	touch $(STAMP)

plan: $(STAMP)
	$(BIN)/mlops-iac plan --stack $(STACK) --project $(PROJECT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)  # BENCH_ARGS="--repeat 5 --teams 1,10,50,100"
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV)
