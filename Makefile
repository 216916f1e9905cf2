# Set-up and the two commands of the README: `make book` and `make test`.
# On a GPU machine choose the torch build, e.g. `make book TORCH="torch==2.5.1"`.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
SCRATCH := $(CURDIR)/.scratch
MATHJAX := book/_assets/mathjax
# Runs made by the tests and the book build are recorded here, not in data/results.
export COMPANION_RESULTS_DIR := $(SCRATCH)/results

.PHONY: install book test test-other-cpus test-generic-cpu test-avx2-cpu notebooks rehearse mathjax clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[book,test,cluster]"
	touch $@

# MathJax is copied into the site from the npm package, so math renders with no internet.
mathjax: $(MATHJAX)/tex-chtml.js

$(MATHJAX)/tex-chtml.js:
	npm install --silent --no-audit --no-fund --prefix $(SCRATCH)/npm mathjax@3
	mkdir -p $(MATHJAX)
	cp -r $(SCRATCH)/npm/node_modules/mathjax/es5/. $(MATHJAX)/

book: install mathjax
	$(BIN)/jupyter-book build book/ -W -n --keep-going

# Two workers (the machine's two cores; a chapter trains on one thread), each test file on one
# worker, so a notebook's cells run in order in one kernel and tests that wait on Slurm or a
# subprocess overlap with the CPU-bound ones. `make test CHAPTERS=vlae` runs the unit tests and
# that chapter's notebook only: a chapter author's inner loop.
TEST_PATHS := $(if $(filter command line,$(origin CHAPTERS)),tests $(foreach chapter,$(CHAPTERS),notebooks/$(chapter).ipynb))
PYTEST_WORKERS ?= 2

test: install mathjax
	$(BIN)/pytest --nbval -n $(PYTEST_WORKERS) --dist loadfile --durations=25 $(TEST_PATHS)

# The chapters re-run under kernels other CPUs would pick, compared with the committed outputs
# (results within the tolerances the chapters state, everything else exactly): what `make test`
# on another machine meets. "generic": no vector instructions (ATen, MKL and oneDNN);
# "avx2": the AVX2 kernels with two BLAS/OpenMP threads. The chapters train on one thread, so
# `make -j2 -O test-other-cpus` (as CI runs it) takes both at once on two cores.
GENERIC_CPU := ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=SSE4_2 ONEDNN_MAX_CPU_ISA=SSE41
AVX2_CPU := ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 \
	OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2

# After editing a chapter's source notebooks/NAME.py: pair it and re-execute it in place, so
# the committed outputs are what `make test` compares (CHAPTERS="vlae ppca" for some only).
CHAPTERS ?= data vlae splitnet vhcr ppca
notebooks: install
	for chapter in $(CHAPTERS); do \
		$(BIN)/jupytext --sync notebooks/$$chapter.py && \
		$(BIN)/jupyter-execute --inplace --timeout=1800 notebooks/$$chapter.ipynb || exit 1; \
	done

# Every paper run at paper sizes for a few steps on fixture data, and what the full runs cost:
# `make rehearse` (CPU), `make rehearse REHEARSE="--device cuda"` on a GPU node.
rehearse: install
	$(BIN)/python -m companion.reproduce --profile paper --rehearse --no-progress $(REHEARSE)

test-other-cpus: test-generic-cpu test-avx2-cpu

test-generic-cpu: install
	env $(GENERIC_CPU) $(BIN)/pytest --nbval notebooks/

test-avx2-cpu: install
	env $(AVX2_CPU) $(BIN)/pytest --nbval notebooks/

clean:
	rm -rf book/_build $(SCRATCH) $(MATHJAX)
