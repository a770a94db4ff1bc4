# The two commands of the README: `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run test bench index train clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch first: 2.13.0 is the CPU build on this machine's disk; a bare `torch`
# would pull a CUDA build of several GB.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	HF_HUB_OFFLINE=1 $(VENV)/bin/eucaqa serve

index: install
	HF_HUB_OFFLINE=1 $(VENV)/bin/eucaqa index

test: install
	HF_HUB_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)

bench: install
	HF_HUB_OFFLINE=1 $(PY) benchmarks/bench.py

# Re-fit the answer model (src/eucaqa/answer_model.json) on eval/fit/.
train: install
	HF_HUB_OFFLINE=1 $(PY) eval/train.py

clean:
	rm -rf $(VENV) index/build-* index/CURRENT
