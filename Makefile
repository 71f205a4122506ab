# scribe: `make demo` and `make test` work on a fresh machine from a clean clone.
# Both create .venv, install what they need (re-runs reuse the venv and pip's cache), then run.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
EXTRAS ?= test,speakers,synth
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := espeak-ng sox libportaudio2

.PHONY: demo test system-deps venv bench-asr synth clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[$(EXTRAS)]'
	touch $@

# Debian packages the tests need: espeak-ng (a test voice), sox, PortAudio for sounddevice.
system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing"; \
		$(SUDO) apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update >/dev/null && $(SUDO) apt-get install -y --no-install-recommends $$missing >/dev/null; }; \
	fi

demo: $(STAMP)
	@echo "== scribe demo: the bundled sample is SYNTHETIC (text-to-speech voices reading a PriMock57 mock consultation) =="
	@echo "-- stereo recording, one speaker per channel: speakers told apart by channel (Whisper base)"
	$(VENV)/bin/scribe transcribe tests/data/sample_stereo.flac --model whisper-base
	@echo "-- the same consultation as a mono mix: speakers told apart by voice embeddings (Whisper base)"
	$(VENV)/bin/scribe transcribe tests/data/sample_mono.flac --model whisper-base

test: system-deps $(STAMP)
	$(PY) -m pytest -q

bench-asr: system-deps $(STAMP)
	$(PY) scripts/bench_asr.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
