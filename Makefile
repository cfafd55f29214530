# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
APT_PACKAGES := ffmpeg espeak-ng

.PHONY: setup system-packages run test lint bench clean

setup: system-packages $(STAMP)

# Debian packages, installed only when a command is missing (idempotent, fast when present).
system-packages:
	@missing=""; \
	command -v ffmpeg >/dev/null || missing="$$missing ffmpeg"; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	if [ -n "$$missing" ]; then \
		echo "installing from Debian:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

run: setup
	$(BIN)/transcribe demo

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check transcribe tests bench
	$(BIN)/ruff format --check transcribe tests bench

clean:
	rm -rf data output/*.html output/episodes output/static
