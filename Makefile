# The README names these targets. `make run` and `make test` are the two set-up commands.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/portal
PYTEST_ARGS ?=
DATA_DIR ?= var
WORLD_SIZE ?= demo
WORLD_SEED ?= 0
WORLD_SETTING ?= default
WORLD := $(DATA_DIR)/world/$(WORLD_SIZE)-$(WORLD_SEED)$(if $(filter-out default,$(WORLD_SETTING)),-$(WORLD_SETTING))
PRESET ?= demo
MODEL := $(DATA_DIR)/model/$(notdir $(WORLD))$(if $(filter-out demo,$(PRESET)),-$(PRESET))
PROFILES := $(DATA_DIR)/profiles/$(notdir $(WORLD)).gctx
SIGNATURES := $(DATA_DIR)/signatures/$(notdir $(WORLD))
EVALUATION := $(DATA_DIR)/evaluation/$(notdir $(MODEL))

.PHONY: install run pipeline model evaluate profiles signatures downloads index serve setup-db world compare-real benchmark-signatures benchmark-db benchmark-level3 lint format test test-sqlite test-postgres clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[cpu,dev]'
	touch $@

install: $(VENV)/.installed

# The embedded default: SQLite and data under ./var, Celery tasks in process, http://127.0.0.1:8000
# The demo pipeline: generate the world, train both steps, convert every profile, compute the
# signatures, then serve. Each step is skipped when its output is there (resumed when unfinished).
run: install setup-db pipeline serve

pipeline: world model profiles signatures downloads index

# The synthetic world (docs/world.md), generated once per size and seed.
world: $(WORLD)/world.json

$(WORLD)/world.json: | install
	$(PY) -m transform world --size $(WORLD_SIZE) --seed $(WORLD_SEED) --setting $(WORLD_SETTING) \
	  --out $(WORLD) --force

# Step 1 and step 2 of the model on the world (a run folder left unfinished is resumed).
model: $(MODEL)/model.pt

$(MODEL)/cyclegan/trained: $(WORLD)/world.json
	$(PY) -m transform train-cyclegan --world $(WORLD) --out $(MODEL)/cyclegan --preset $(PRESET) \
	  $$(test -f $(MODEL)/cyclegan/run.json && echo --resume)
	touch $@

$(MODEL)/extrapolator/trained: $(WORLD)/world.json
	$(PY) -m transform train-extrapolator --world $(WORLD) --out $(MODEL)/extrapolator \
	  --preset $(PRESET) $$(test -f $(MODEL)/extrapolator/run.json && echo --resume)
	touch $@

$(MODEL)/model.pt: $(MODEL)/cyclegan/trained $(MODEL)/extrapolator/trained
	$(PY) -m transform bundle --cyclegan $(MODEL)/cyclegan/checkpoint.pt \
	  --extrapolator $(MODEL)/extrapolator/checkpoint.pt --out $@

# The model judged on the world: profile level (paired samples) and signature level (ground truth).
evaluate: $(EVALUATION)/evaluation.md

$(EVALUATION)/evaluation.md: $(MODEL)/model.pt
	$(PY) -m transform evaluate --model $< --world $(WORLD) --out $(EVALUATION)

# Every Level 3 profile of the world through the model (resumes an interrupted conversion).
profiles: $(PROFILES)

$(PROFILES): $(MODEL)/model.pt
	$(PY) -m transform convert --checkpoint $< --input $(WORLD)/l1000/level3.gctx --out $@ \
	  --force

# Characteristic-direction signatures of the RNA-seq-like profiles (resumable by batch).
signatures: $(SIGNATURES)/manifest.json

$(SIGNATURES)/manifest.json: $(PROFILES)
	$(PY) -m transform signatures --profiles $< --inst-info $(WORLD)/l1000/inst_info.txt \
	  --sig-info $(WORLD)/l1000/sig_info.txt --out $(SIGNATURES) --force

# The outputs laid out as the portal's downloads (var/downloads), signatures split by type.
downloads: $(DATA_DIR)/downloads/signatures_metadata.tsv

$(DATA_DIR)/downloads/signatures_metadata.tsv: $(SIGNATURES)/manifest.json
	$(PY) -m transform publish --signatures $(SIGNATURES) --profiles $(PROFILES) \
	  --inst-info $(WORLD)/l1000/inst_info.txt --model $(MODEL)/model.pt --out $(DATA_DIR)/downloads

# The search index of the signatures (var/index), and their metadata in the database.
index: $(DATA_DIR)/index/index.json

$(DATA_DIR)/index/index.json: $(SIGNATURES)/manifest.json | setup-db
	DEBUG=$${DEBUG:-1} DATA_DIR=$(abspath $(DATA_DIR)) $(PY) manage.py build_search_index \
	  --signatures $(SIGNATURES) \
	  $(if $(wildcard $(EVALUATION)/per_gene.tsv),--gene-accuracy $(EVALUATION)/per_gene.tsv)

benchmark-load: install
	$(PY) -m benchmarks.load --data $(DATA_DIR)

benchmark-db: install
	$(PY) -m benchmarks.db

benchmark-signatures: install
	$(PY) -m benchmarks.signatures

# The index build of generated float32 signatures x 23,614 genes (default 100,000; ~5 GB under /tmp),
# projected per million, and the ranking alone against numpy's argsort
.PHONY: benchmark-build
benchmark-build: install
	$(PY) -m benchmarks.build $(if $(SIGNATURES_N),--signatures $(SIGNATURES_N)) $(BUILD_ARGS)

# Many queries at once (search_many) against one by one: 1M generated signatures x 5,000 genes
# (10 GB in memory and under SEARCH_BENCH_DIR or /tmp, deleted afterwards; about 12 minutes).
# SIGNATURES_N=100000 GENES=23614 for the whole gene space at a tenth of the signatures.
.PHONY: benchmark-batch
benchmark-batch: install
	$(PY) -m benchmarks.batch $(if $(SIGNATURES_N),--signatures $(SIGNATURES_N)) \
		$(if $(GENES),--genes $(GENES)) $(if $(LIBRARY),--library $(LIBRARY)) \
		$(if $(ALONE),--alone $(ALONE))

# An index in 2 and 4 shards served by Celery workers on the running Redis, against one index:
# the scatter-and-merge overhead per query, p50 and p99 (200k signatures x 2,000 genes), and the
# head's reads (gene rows, signature pages, similar signatures) through the same workers;
# GENES=23614 VALUES=1 for the LINCS gene space with the cd score's values.
.PHONY: benchmark-shards
benchmark-shards: install
	$(PY) -m benchmarks.shards $(if $(SIGNATURES_N),--signatures $(SIGNATURES_N)) \
		$(if $(GENES),--genes $(GENES)) $(if $(VALUES),--values)

# Search latency at 10k, 100k and 1M generated signatures (1M: ~50 GB under SEARCH_BENCH_DIR or /tmp,
# deleted afterwards; SIZES=10000,100000 leaves it out).
.PHONY: benchmark-search
benchmark-search: install
	$(PY) -m benchmarks.search $(if $(SIZES),--sizes $(SIZES))

# The trust features (specificity, hub genes, consensus, sliced export) at 100k and 1M generated
# signatures x 2,000 genes (GENES=... for another gene count; ~14 GB under SEARCH_BENCH_DIR or /tmp
# at 1M, deleted afterwards; SIZES=100000 leaves 1M out).
.PHONY: benchmark-trust
benchmark-trust: install
	$(PY) -m benchmarks.trust $(if $(SIZES),--sizes $(SIZES)) $(if $(GENES),--genes $(GENES))

.PHONY: benchmark-train
benchmark-train: install
	$(PY) -m benchmarks.train

.PHONY: benchmark-convert
benchmark-convert: install
	$(PY) -m benchmarks.convert

# The 978 landmark rows read out of generated 12,328-gene Level 3 files (200,000 profiles, ~10 GB
# each, one at a time under var/bench-level3) in three chunk layouts, against the disk.
benchmark-level3: install
	$(PY) -m benchmarks.level3_read

# On a machine with a CUDA GPU: the gpu-marked tests, then the search, conversion, training and
# signature benchmarks on the GPU; logs and tables under var/bench-gpu. GPU_PYTHON=... names an
# interpreter with CUDA torch (default: the venv's, whose CPU torch would skip every GPU part).
GPU_PYTHON ?= $(PY)
.PHONY: benchmark-gpu
benchmark-gpu:
	PYTHON=$(GPU_PYTHON) benchmarks/gpu.sh

compare-real: $(WORLD)/world.json
	$(PY) -m transform world --compare-real --size $(WORLD_SIZE) --seed $(WORLD_SEED) --out $(WORLD)

setup-db: install
	DEBUG=$${DEBUG:-1} DATA_DIR=$(abspath $(DATA_DIR)) $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} DATA_DIR=$(abspath $(DATA_DIR)) $(PY) manage.py load_genes

# Served without Django's debug pages, which show the settings and the process environment to any
# request: a local, single-user default (SQLite, a secret key of its own under DATA_DIR, plain
# HTTP on HOST). `DEBUG=1 make serve` is the developer's switch. Production: docker/README.md.
EMBEDDED_ENV = DEBUG=0 DATA_DIR=$(abspath $(DATA_DIR)) \
  DATABASE_URL=sqlite:///$(abspath $(DATA_DIR))/portal.sqlite3 \
  SECRET_KEY="$$(cat $(DATA_DIR)/secret_key)" ALLOWED_HOSTS=$(HOST),localhost,127.0.0.1 \
  SECURE_SSL_REDIRECT=0 SECURE_HSTS_SECONDS=0

$(DATA_DIR)/secret_key:
	mkdir -p $(DATA_DIR)
	umask 077 && $(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@

serve: install $(DATA_DIR)/secret_key
	@echo "Serving the portal on http://$(HOST):$(PORT)/ (Ctrl-C stops it)"
	@if [ "$${DEBUG:-0}" = 1 ]; then \
	  DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT); \
	else \
	  $(EMBEDDED_ENV) $(PY) manage.py collectstatic --noinput -v 0 && \
	  $(EMBEDDED_ENV) $(PY) manage.py runserver --noreload $(HOST):$(PORT); \
	fi

# ruff (style, layout), import-linter (the architecture's contracts, .importlinter), mypy (types:
# strict on search/engine and transform, pyproject.toml [tool.mypy]).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy search transform portal

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The whole suite, twice: on the embedded SQLite and on the running PostgreSQL.
test: lint test-sqlite test-postgres

test-sqlite: install
	env -u DATABASE_URL $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: install
	DATABASE_URL=$(TEST_POSTGRES_URL) $(PY) -m pytest -m "not browser and not faults" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
