# Two commands do everything (see README.md):
#   make sentiment   set up, then train, evaluate and export the sentiment task
#   make pos         the same for part-of-speech tagging (UD English EWT)
#   make music       the same for music generation (JSB chorales)
#   make test        set up, then lint and run the test suite
# Data comes from the canonical URLs, or from a local mirror when
# RNN_DATA_MIRROR (or --data-mirror) points at one.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)
# Expanded once: a `?=` with $(shell date) would name each line's run anew.
NOW := $(shell date +%Y%m%d-%H%M%S)
RUN ?= runs/sentiment-$(NOW)
POS_RUN ?= runs/pos-$(NOW)
POS_TRAIN := --epochs 30 --patience 4
MUSIC_RUN ?= runs/music-$(NOW)
# Training settings of the music benchmark (the model's are MusicConfig's defaults).
MUSIC_TRAIN := --epochs 300 --patience 12 --batch-size 16 --learning-rate 3e-3

.PHONY: setup sentiment benchmark-sentiment pos benchmark-pos music benchmark-music test lint clean

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

music: setup
	$(BIN)/python train.py music --run-dir $(MUSIC_RUN) --head nade $(MUSIC_TRAIN)
	$(BIN)/python evaluate.py music --model $(MUSIC_RUN)
	$(BIN)/python evaluate.py music --model $(MUSIC_RUN) --predict "C4 E4 G4" --out $(MUSIC_RUN)/chorale.mid

# Two runs, one per head, combined into benchmarks/music.json (the joint
# head's NLL first: it is the headline); then a few pieces from the joint
# (NADE) model, the better one, into benchmarks/music/.
benchmark-music: setup
	$(BIN)/python train.py music --run-dir $(MUSIC_RUN)-nade --head nade $(MUSIC_TRAIN)
	$(BIN)/python train.py music --run-dir $(MUSIC_RUN)-sigmoid --head sigmoid $(MUSIC_TRAIN)
	$(BIN)/python evaluate.py music --model $(MUSIC_RUN)-nade $(MUSIC_RUN)-sigmoid --benchmark
	for seed in 0 1 2; do $(BIN)/python evaluate.py music --model $(MUSIC_RUN)-nade \
		--predict "C4 E4 G4 C5" --steps 64 --sample-seed $$seed --out benchmarks/music/chorale-seed$$seed.mid; done

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
