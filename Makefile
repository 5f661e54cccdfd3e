# Two entry points (see README): `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint schema bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt -e ".[torch,tf,jax,plot,dev]"
	touch $(STAMP)

demo: setup
	$(BIN)/lrspec compile examples/finetune_cnn.yaml --target torch --model lrspec_torch.examples:mnist_cnn

test: setup
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check .
	$(BIN)/mypy

schema: setup
	$(BIN)/lrspec schema > schemas/lrspec-v1.schema.json

bench: setup
	$(BIN)/python bench/bench_resolve.py

clean:
	rm -rf $(VENV) build dist *.egg-info
