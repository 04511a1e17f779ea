# Two commands do everything (see README.md):
#   make sentiment   set up, then train, evaluate and export the sentiment task
#   make test        set up, then lint and run the test suite
# Data comes from the canonical URLs, or from a local mirror when
# RNN_DATA_MIRROR (or --data-mirror) points at one.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)
RUN ?= runs/sentiment-$(shell date +%Y%m%d-%H%M%S)

.PHONY: setup sentiment benchmark-sentiment translation benchmark-translation test lint clean

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

TRANSLATION_RUN ?= runs/translation-$(shell date +%Y%m%d-%H%M%S)
TRANSLATION_TRAINING := --epochs 30 --batch-size 128 --learning-rate 2e-3 --patience 3

translation: setup
	$(BIN)/python train.py translation --run-dir $(TRANSLATION_RUN) $(TRANSLATION_TRAINING)
	$(BIN)/python evaluate.py translation --model $(TRANSLATION_RUN)

benchmark-translation: setup
	$(BIN)/python train.py translation --run-dir $(TRANSLATION_RUN) $(TRANSLATION_TRAINING)
	$(BIN)/python evaluate.py translation --model $(TRANSLATION_RUN) --benchmark

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
