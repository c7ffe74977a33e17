# GANs for Audio: a fresh machine needs only `make lab` (open the course) and `make test`.
# Every target that needs the environment runs `setup` first; it is a no-op once .venv is
# current. Variables: PYTHON (to create .venv), LAB_ARGS, PYTEST_ARGS, BENCH_ARGS.

PYTHON ?= python3
VENV := .venv
ifeq ($(OS),Windows_NT)
  PY := $(VENV)/Scripts/python.exe
else
  PY := $(VENV)/bin/python
endif

LAB_ARGS ?=
PYTEST_ARGS ?=
BENCH_ARGS ?=
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: setup lab test notebooks bench strip references clean

setup:
	@$(PYTHON) tools/bootstrap.py

# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

lab: setup
	$(PY) -m jupyter lab --ServerApp.root_dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

# Quick mode (GANLIB_QUICK=1) shrinks training, never skips code. Notebooks run under nbval
# (options in pyproject.toml).
test: setup
	GANLIB_QUICK=1 $(PY) -m pytest $(PYTEST_ARGS)

# Executed copies for instructors and reading online: build/notebooks/..., full mode unless
# GANLIB_QUICK=1 is set.
notebooks: setup
	$(PY) -m jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=-1 \
	  --ExecutePreprocessor.kernel_name=python3 \
	  --output-dir build/notebooks $(NOTEBOOKS)

# Times every notebook in quick and full mode (benchmarks/results/notebooks.json and README's
# course map), then the training loop against a plain one (benchmarks/results/train_speed.json),
# the mel front end against librosa (mel_speed.json), loading the bundled digits (data_loading.json),
# WaveGAN/SpecGAN training steps per second for each preset and recipe (wavegan_speed.json), and
# HiFi-GAN synthesis and training speed against the official network, eager (hifigan_speed.json),
# the Fourier vocoder's beside HiFi-GAN's (fourier_speed.json), and how far another CPU's rounding
# moves the shipped vocoders' scores: the tolerances of ganlib.speech.SCORE_TOLERANCE (score_spread.json).
bench: setup
	$(PY) benchmarks/notebook_times.py --update-readme $(BENCH_ARGS)
	$(PY) benchmarks/train_speed.py
	$(PY) benchmarks/mel_speed.py
	$(PY) benchmarks/data_loading.py
	$(PY) benchmarks/wavegan_speed.py
	$(PY) benchmarks/hifigan_speed.py
	$(PY) benchmarks/fourier_speed.py
	$(PY) benchmarks/score_spread.py

strip:
	$(PYTHON) tools/nbstrip.py $(NOTEBOOKS)

# Re-run every notebook in quick mode and keep only the outputs of `# NBVAL_CHECK_OUTPUT`
# cells: the references nbval compares against in `make test`.
references: setup
	GANLIB_QUICK=1 $(PY) -m jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.timeout=-1 --ExecutePreprocessor.kernel_name=python3 $(NOTEBOOKS)
	$(PYTHON) tools/nbstrip.py $(NOTEBOOKS)

clean:
	rm -rf build .pytest_cache
	find . \( -path ./$(VENV) -o -path ./.git \) -prune -o \
	  \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -prune -exec rm -rf {} +
