# Two commands do everything (see README.md):
#   make sentiment   set up, then train, evaluate and export the sentiment task
#   make pos         the same for part-of-speech tagging (UD English EWT)
#   make test        set up, then lint and run the test suite
# Data comes from the canonical URLs, or from a local mirror when
# RNN_DATA_MIRROR (or --data-mirror) points at one.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)
RUN ?= runs/sentiment-$(shell date +%Y%m%d-%H%M%S)
POS_RUN ?= runs/pos-$(shell date +%Y%m%d-%H%M%S)
POS_TRAIN := --epochs 30 --patience 4

.PHONY: setup sentiment benchmark-sentiment pos benchmark-pos test lint clean

setup: $(STAMP)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

sentiment: setup
	$(BIN)/python train.py sentiment --run-dir $(RUN)
	$(BIN)/python evaluate.py sentiment --model $(RUN)

benchmark-sentiment: setup
	$(BIN)/python train.py sentiment --run-dir $(RUN)
	$(BIN)/python evaluate.py sentiment --model $(RUN) --benchmark

pos: setup
	$(BIN)/python train.py pos --run-dir $(POS_RUN) $(POS_TRAIN)
	$(BIN)/python evaluate.py pos --model $(POS_RUN)

benchmark-pos: setup
	$(BIN)/python train.py pos --run-dir $(POS_RUN) $(POS_TRAIN)
	$(BIN)/python evaluate.py pos --model $(POS_RUN) --benchmark

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
