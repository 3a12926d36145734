# Two entry points a new user needs: `make plan` (the main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STACK  ?= aws-dev
PROJECT ?= .
BENCH_ARGS ?=
STAMP  := $(VENV)/.installed

.PHONY: plan test lint test-install bench bench-first-plan docs clean

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

# The acceptance run of the library as a team installs it: the wheel with only the `aws` extra in
# a fresh venv outside the repository (slow: downloads the pinned wheels once into .venv/wheelhouse).
test-install: $(STAMP)
	$(BIN)/python -m pytest -m slow -s tests/test_packaging.py

docs: $(STAMP)  # regenerate docs/reference.md
	$(BIN)/python -m tools.docs

bench: $(STAMP)  # BENCH_ARGS="--repeat 5 --teams 1,10,50,100"; FIRST_PLAN=1 adds the slow one below
	$(BIN)/python -m benchmarks $(BENCH_ARGS)
	$(if $(FIRST_PLAN),$(PYTHON) -m benchmarks.first_plan --stack $(STACK))

bench-first-plan:  # the first `make plan` of a fresh clone, timed (slow; uses the package index)
	$(PYTHON) -m benchmarks.first_plan --stack $(STACK)

clean:
	rm -rf $(VENV)
