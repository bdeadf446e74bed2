# Every target creates the virtual environment itself when it is missing or stale.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# PIP_CONSTRAINT also reaches pip's build-isolation environments (norse builds from source).
PIP := PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(PY) -m pip
DEMO_OUT ?= demo-out

.PHONY: venv demo test bench aihwkit-check speech-data clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e '.[dev,peers,brian2]'
	# sinabs pins nir<=1.0.4 (snntorch needs a newer nir) and samna (hardware only): install it without them
	$(PIP) install -q -c constraints.txt --no-deps sinabs==3.1.3 && $(PIP) install -q -c constraints.txt pbr matplotlib
	@# xylosim (the bit-accurate Xylo simulator the fixed-point tests compare against) builds from C++ source in about
	@# a minute; without a compiler the build fails and only tests/test_hardware_quantize_xylosim.py is skipped.
	$(PIP) install -q -c constraints.txt -e '.[xylo]' || echo "xylosim did not build; its agreement test will be skipped"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/spikerec demo --out $(DEMO_OUT)

# One BLAS/OpenMP thread per xdist worker: two workers share the two cores, and oversubscribed
# threads make small matrix products (Lyapunov QR, crossbar reads) ten times slower.
test: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 $(PY) -m pytest -q -n 2

bench: $(STAMP)
	$(PY) -m benchmarks.run

# Optional: build IBM aihwkit (source only, ~4 min) and cross-check the crossbar model with it.
aihwkit-check: $(STAMP)
	command -v apt-get >/dev/null && (dpkg -s libopenblas-dev >/dev/null 2>&1 || apt-get install -y -q libopenblas-dev)
	$(PIP) install -q scikit-build cmake pybind11 ninja mypy
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PIP) install -q --no-build-isolation aihwkit==1.2.0  # its build calls mypy's stubgen
	$(PY) -m benchmarks.aihwkit_check
	$(PY) -m pytest -q tests/test_hardware_crossbar_aihwkit.py

# Offline spoken-command set (docs/audio.md): espeak-ng words, 48 voices, noise -> cochlea -> data/speech/shd_{train,test}.h5.
SPEECH_DIR ?= data/speech
speech-data: $(STAMP)
	@command -v espeak-ng >/dev/null || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get install -y -q espeak-ng) \
		|| { echo "speech-data needs espeak-ng: sudo apt-get install espeak-ng (Debian/Ubuntu) or brew install espeak-ng (macOS)"; exit 1; }
	$(PY) -m spikerec.datasets.audio.speechset_cli --out $(SPEECH_DIR)/wav --speakers 48
	$(VENV)/bin/spikerec data encode --audio $(SPEECH_DIR)/wav/manifest.csv --out $(SPEECH_DIR) --workers 2

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
