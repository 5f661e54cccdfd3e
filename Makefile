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
	# timm without its torchvision requirement: the registry's torchvision is a CUDA build whose
	# ops fail to load against the CPU torch, and transformers/lightning crash importing it.
	# The tests give timm the one torchvision name it imports (tests/shims/torchvision).
	$(BIN)/python -m pip install -c constraints.txt --no-deps timm
	touch $(STAMP)

# The promise on the bundled example: its plan, then the same spec compiled for torch, Keras (tf)
# and tf.compat.v1, 5 updates with the same gradients, each target's divergence from the reference.
DEMO_SPEC := examples/finetune_cnn.yaml
DEMO_PARAMS := examples/params/finetune_cnn.txt
demo: setup
	@echo "== the plan: what $(DEMO_SPEC) gives every parameter of the bundled MNIST CNN"
	$(BIN)/lrspec explain $(DEMO_SPEC) --params $(DEMO_PARAMS)
	@echo
	@echo "== the same spec compiled for torch, tf (Keras 3) and tf-v1 (tf.compat.v1): 5 updates with"
	@echo "== the same gradients, each target's distance from lrspec's float64 reference per group"
	$(BIN)/lrspec verify $(DEMO_SPEC) --params $(DEMO_PARAMS) --targets torch,tf,tf-v1 --steps 5
	@echo
	@echo "Next (activate the venv first: . $(BIN)/activate, or call $(BIN)/lrspec):"
	@echo "  lrspec compile $(DEMO_SPEC) --target torch --model lrspec_torch.examples:mnist_cnn"
	@echo "      the optimizer for a real model (--target tf or tf-v1: --model lrspec_tf.examples:mnist_cnn)"
	@echo "  lrspec plot $(DEMO_SPEC) --params $(DEMO_PARAMS)"
	@echo "      the lr of every group over time"
	@echo "  README.md: a complete session; docs/spec.md: the format; examples/: the classic recipes"

test: setup
	# two workers, each test file whole in one of them (module fixtures are built once)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile
	$(BIN)/ruff check .
	$(BIN)/mypy

schema: setup
	$(BIN)/lrspec schema > schemas/lrspec-v1.schema.json

bench: setup
	$(BIN)/python bench/bench_resolve.py

clean:
	rm -rf $(VENV) build dist *.egg-info
