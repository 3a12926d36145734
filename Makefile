# Two entry points a new user needs: `make plan` (the main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STACK  ?= aws-dev
PROJECT ?= .
BENCH_ARGS ?=
STAMP  := $(VENV)/.installed

.PHONY: plan test test-highest lint bench bench-first-plan docs clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	# uv installs the pinned set in a fraction of pip's time, and its cache lets the install
	# acceptance test build a team's venv without the network (tests/test_packaging.py).
	$(BIN)/pip install -q $$(grep -E '^uv==' constraints.txt)
	$(BIN)/uv pip install -q --python $(BIN)/python -c constraints.txt -e '.[all,test,dvc]'
	# Azurite (npm) for the dvc-azure round trip, into .cache/azurite (the test retries, then skips).
	-$(BIN)/python -c 'from mlops_iac.plan.testing.emulators import azurite_binary as a; a()'
	touch $(STAMP)

plan: $(STAMP)
	$(BIN)/mlops-iac plan --stack $(STACK) --project $(PROJECT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Bytecode is written (Python's default, which some CI images turn off with
# PYTHONDONTWRITEBYTECODE): the suite starts hundreds of fresh interpreters (the CLI, the
# examples, MLflow, the import checks), and each would compile the provider SDKs and the library
# from source again, about half of a `mlops-iac plan`'s CPU time.
test: lint
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n auto --dist worksteal

# The high end of the declared ranges: the newest release of every dependency inside its range,
# in its own venv (the `dvc` extra is left out: dvc-s3 pins boto3 to the low end). The result of
# a run is recorded in docs/compatibility.md.
HIGHEST := .venv-highest
test-highest: $(STAMP)
	$(BIN)/uv venv -q --allow-existing --python $(BIN)/python $(HIGHEST)
	$(BIN)/uv pip install -q --python $(HIGHEST)/bin/python --resolution highest -e '.[all,test]'
	$(BIN)/uv pip list --python $(HIGHEST)/bin/python | grep -iE '^(pulumi|boto3|pydantic|pyyaml|ruamel|jsonschema|rich)'
	$(HIGHEST)/bin/python -m pytest -n auto

docs: $(STAMP)  # regenerate docs/reference.md, docs/rules.md, the taggable types and type aliases
	$(BIN)/python -m tools.docs
	$(BIN)/python -m tools.taggable
	$(BIN)/python -m tools.typealiases

FIRST_PLAN ?= 1
bench: $(STAMP)  # BENCH_ARGS="--repeat 5 --teams 1,10,50,100"; FIRST_PLAN=0 skips the first-plan one
	$(BIN)/python -m benchmarks $(BENCH_ARGS)
	$(if $(filter 1,$(FIRST_PLAN)),$(PYTHON) -m benchmarks.first_plan --stack $(STACK))

bench-first-plan:  # the first `make plan` of a fresh clone, timed (slow; uses the package index)
	$(PYTHON) -m benchmarks.first_plan --stack $(STACK)

clean:
	rm -rf $(VENV) $(HIGHEST)
