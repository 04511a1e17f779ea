# Two commands do everything (see README.md):
#   make sentiment   set up, then train, evaluate and export the sentiment task
#   make test        set up, then lint and run the test suite
# `make pos`, `make music` and `make translation` do the same for those tasks;
# `make benchmark-TASK` regenerates benchmarks/TASK.json from scratch.
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
MUSIC_RUN ?= runs/music-$(NOW)
TRANSLATION_RUN ?= runs/translation-$(NOW)

.PHONY: setup sentiment benchmark-sentiment pos benchmark-pos music benchmark-music \
	translation benchmark-translation benchmark-forecasting benchmark-memory benchmark-scaling \
	benchmark-language-model benchmark-throughput benchmark-time-to-target \
	gpu-check test lint clean

setup: $(STAMP)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

sentiment: setup
	$(BIN)/python train.py sentiment --run-dir $(RUN)
	$(BIN)/python evaluate.py sentiment --model $(RUN)

pos: setup
	$(BIN)/python train.py pos --run-dir $(POS_RUN)
	$(BIN)/python evaluate.py pos --model $(POS_RUN)

music: setup
	$(BIN)/python train.py music --run-dir $(MUSIC_RUN) --head nade
	$(BIN)/python evaluate.py music --model $(MUSIC_RUN)
	$(BIN)/python evaluate.py music --model $(MUSIC_RUN) --predict "C4 E4 G4" --out $(MUSIC_RUN)/chorale.mid

translation: setup
	$(BIN)/python train.py translation --run-dir $(TRANSLATION_RUN)
	$(BIN)/python evaluate.py translation --model $(TRANSLATION_RUN)

# Benchmarks. Every model trains once per seed into runs/benchmark/, one
# command line each; `evaluate.py --benchmark` then reports each metric as
# the mean, standard deviation and per-seed values. A run directory that
# holds a finished run with the same settings is reused as it is, one with
# other settings is refused, an interrupted one resumes where it stopped.
# tests/test_benchmarks.py checks that each committed file's commands are
# the ones its target runs.
SEEDS := 0 1 2
BENCHMARK_RUNS := runs/benchmark
define newline


endef
# $(call seeded,TASK,NAME,FLAGS[,SEEDS]): one training line per seed, into NAME-sSEED.
seeded = $(foreach seed,$(or $(4),$(SEEDS)),$(BIN)/python train.py $(strip $(1) $(3)) --seed $(seed) \
	--run-dir $(BENCHMARK_RUNS)/$(2)-s$(seed)$(newline))
# $(call runs,NAME[,SEEDS]): those run directories.
runs = $(foreach seed,$(or $(2),$(SEEDS)),$(BENCHMARK_RUNS)/$(1)-s$(seed))
# $(call gradients,TASK,RUN): the gradient flow through time of a benchmark
# run's kept weights, into benchmarks/TASK/gradient_flow.{json,png}.
gradients = $(BIN)/python evaluate.py $(1) --model $(BENCHMARK_RUNS)/$(2) --gradients benchmarks/$(1)

benchmark-sentiment: setup
	$(call seeded,sentiment,sentiment/gru,)
	$(BIN)/python evaluate.py sentiment --model $(call runs,sentiment/gru) --benchmark
	$(call gradients,sentiment,sentiment/gru-s0)

# The language model and sentiment fine-tuned from it, seed by seed, each
# finished seed recorded (benchmarks/language_model/seeds.json); hours.
benchmark-language-model: setup
	$(BIN)/python benchmarks/language_model.py

benchmark-pos: setup
	$(call seeded,pos,pos/bigru,)
	$(BIN)/python evaluate.py pos --model $(call runs,pos/bigru) --benchmark
	$(call gradients,pos,pos/bigru-s0)

# Two models, one per head (the joint head's NLL is the headline), then a
# few pieces from the joint (NADE) model of seed 0 into benchmarks/music/.
# The sigmoid head takes the settings with the best validation NLL among
# those tried (docs/experiments/music.md): two layers, the keyboard stack,
# and a long weight average at a constant rate.
SIGMOID := --head sigmoid --depth 2 --keyboard-units 64 --learning-rate 0.001 --ema 0.998 --lr-decay 1
benchmark-music: setup
	$(call seeded,music,music/nade,--head nade)
	$(call seeded,music,music/sigmoid,$(SIGMOID))
	$(BIN)/python evaluate.py music --model $(call runs,music/nade) $(call runs,music/sigmoid) --benchmark
	$(call gradients,music,music/nade-s0)
	$(foreach sample,0 1 2,$(BIN)/python evaluate.py music --model $(BENCHMARK_RUNS)/music/nade-s0 \
		--predict "C4 E4 G4 C5" --steps 64 --sample-seed $(sample) \
		--out benchmarks/music/chorale-seed$(sample).mid$(newline))

benchmark-translation: setup
	$(call seeded,translation,translation/gru-attention,)
	$(BIN)/python evaluate.py translation --model $(call runs,translation/gru-attention) --benchmark
	$(call gradients,translation,translation/gru-attention-s0)
	$(BIN)/python evaluate.py translation --model $(BENCHMARK_RUNS)/translation/gru-attention-s0 \
		--attention-map benchmarks/translation/attention.png \
		--predict "A little girl in a pink dress is climbing the stairs." "Two men are playing soccer on a green field."

# Forecasting: one model per dataset and horizon, SegRNN's settings for
# lookback 96 (segments of 24 rows and rate 1e-3 on ETTh1, 48 and 2e-4 on
# ETTm1; a weight average on ETTh1 only, where it lowered validation MSE;
# the daily cycle and the least-squares blend on both); ETTh1 336 trains on
# segments of 48 with MAE loss, which validation preferred there (not at
# 720: docs/experiments/forecasting.md). The plain GRU reference, on the
# same protocol, stays tutorial-plain (no weight average, cycle or blend)
# and runs with seed 0 only.
HORIZONS := 96 192 336 720
SEGMENT_ETTH1 := --series etth1 --segment-length 24 --learning-rate 1e-3
SEGMENT_ETTH1_336 := --series etth1 --segment-length 48 --learning-rate 1e-3 --loss mae
SEGMENT_ETTM1 := --series ettm1 --segment-length 48 --learning-rate 2e-4 --ema 0
PLAIN := --model plain --units 64 --dropout 0 --normalization none --learning-rate 1e-3 --ema 0 \
	--no-daily-cycle --no-linear-blend
# $(call forecast,NAME,HORIZONS,FLAGS[,SEEDS]): one model per horizon, each once per seed.
forecast = $(foreach horizon,$(2),\
	$(call seeded,forecasting --horizon $(horizon),forecasting/$(1)-$(horizon),$(3),$(4)))
forecast_runs = $(foreach horizon,$(2),$(call runs,forecasting/$(1)-$(horizon),$(3)))
FORECAST_MODELS := $(call forecast_runs,segment-etth1,96 192 720 336) \
	$(call forecast_runs,plain-etth1,$(HORIZONS),0) \
	$(call forecast_runs,segment-ettm1,$(HORIZONS)) $(call forecast_runs,plain-ettm1,$(HORIZONS),0)

benchmark-forecasting: setup
	$(call forecast,segment-etth1,96 192 720,$(SEGMENT_ETTH1))
	$(call forecast,segment-etth1,336,$(SEGMENT_ETTH1_336))
	$(call forecast,plain-etth1,$(HORIZONS),$(PLAIN) --series etth1,0)
	$(call forecast,segment-ettm1,$(HORIZONS),$(SEGMENT_ETTM1))
	$(call forecast,plain-ettm1,$(HORIZONS),$(PLAIN) --series ettm1,0)
	$(BIN)/python evaluate.py forecasting --model $(FORECAST_MODELS) --benchmark
	$(call gradients,forecasting,forecasting/segment-etth1-96-s0)

# How long a memory each cell and cure learns (benchmarks/memory.json); hours.
benchmark-memory: setup
	$(BIN)/python benchmarks/memory.py

# One process against two workers on this machine (benchmarks/scaling.json).
benchmark-scaling: setup
	$(BIN)/python benchmarks/scaling.py

# The project's trainer against the same model written the plain Keras way,
# alternated in one run (benchmarks/throughput.json); about 70 minutes here.
benchmark-throughput: setup
	$(BIN)/python benchmarks/throughput.py

# Sentiment's default against a batch of 128 at twice the learning rate,
# 3 seeds alternated: seconds to the default's validation accuracy, and test.
benchmark-time-to-target: setup
	$(BIN)/python benchmarks/time_to_target.py

# Which recurrent layers run on cuDNN, and (on a GPU) training speed and
# memory of every task in float32 and mixed precision.
gpu-check: setup
	$(BIN)/python gpu_check.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# One test process per core (at most 4: each holds TensorFlow), a test file
# on one process, so its module fixtures are built once. On this project's
# 2-core machine that halves the suite: 508 s against 959 s one by one.
test: lint
	$(BIN)/python -m pytest --numprocesses auto --maxprocesses 4 --dist loadfile

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
