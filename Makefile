# hylab build. `make` builds ./hylab; `make test` runs every test that needs
# no GPU; `make bench` runs the benchmark programs; `make deps` installs the
# Debian packages; `make data` downloads the data files (text/datadir.h);
# `make quickstart` runs the quick-start sweep and report.
# SAN=1 builds with ASan + UBSan into build-san/ (binary build-san/hylab).
CC      ?= gcc
ARCH    ?= -march=native
OPT     ?= -O2
WARN    := -Wall -Wextra -Werror
CFLAGS  += -std=c11 $(OPT) -g $(ARCH) $(WARN) -fopenmp -D_GNU_SOURCE -I. -I/usr/include/cjson
# OpenBLAS: the OpenMP build shares hylab's OpenMP thread pool (the pthread
# build spins its own threads against OpenMP's: measured 2.7x slower on a busy
# 2-core machine). Falls back to whatever libopenblas the linker finds.
OPENBLAS_OMP := /usr/lib/$(shell $(CC) -print-multiarch)/openblas-openmp
ifneq ($(wildcard $(OPENBLAS_OMP)/libopenblas.so),)
BLASLIB := -L$(OPENBLAS_OMP) -Wl,-rpath,$(OPENBLAS_OMP) -lopenblas
else
BLASLIB := -lopenblas
endif
LDLIBS  += $(BLASLIB) -lcjson -lsqlite3 -lm -fopenmp
BUILD   := build
HYLAB_BIN := hylab
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
BUILD   := build-san
HYLAB_BIN := build-san/hylab
OPT     := -O1
endif

# Layers, bottom up (DESIGN.md "Layout"; tests/test_layering.sh keeps includes
# pointing downward): core/ <- kernels/ <- models/, tasks/, db/ <- harness/.
# Includes are rooted at the repository (-I.): #include "core/status.h".
SRC_DIRS  := core text kernels kernels/cpu kernels/cpu_ref models tasks db harness harness/cli \
             harness/train harness/run harness/report harness/eval
LIB_SRCS  := $(sort $(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c)))
LIB_SRCS  := $(filter-out harness/cli/main.c,$(LIB_SRCS))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
TEST_SCRIPTS := $(sort $(wildcard tests/test_*.sh))
BENCH_SRCS:= $(sort $(wildcard tests/bench_*.c))
BENCH_BINS:= $(BENCH_SRCS:tests/%.c=$(BUILD)/tests/%)
HEADERS   := $(foreach d,$(SRC_DIRS) tests,$(wildcard $(d)/*.h))
DEPS_PKGS := libopenblas-dev libopenblas-openmp-dev libcjson-dev libsqlite3-dev gnuplot-nox sqlite3 python3-numpy \
             curl python3-venv
# The independent numpy reference forward (tests/ref/ref_forward.py) runs under
# Debian's interpreter, where Debian's python3-numpy is installed: a python3
# earlier on PATH (pyenv, conda) may lack numpy. A missing reference is a
# test failure, never a skip.
HYLAB_PYTHON ?= /usr/bin/python3
# The data directory (text/datadir.h) that tests, benchmarks and the quick
# start read: a checkout's sibling shared/data when there is one (development
# and CI), else HYLAB_DATA from the environment, else hylab's default
# (~/.local/share/hylab, filled by `hylab data fetch`).
ifneq ($(wildcard ../shared/data/README.md),)
HYLAB_DATA ?= $(abspath ../shared/data)
endif
ifneq ($(HYLAB_DATA),)
export HYLAB_DATA
endif

.PHONY: all test bench deps data quickstart clean check-deps check-test-deps
all: check-deps $(HYLAB_BIN)

$(HYLAB_BIN): $(BUILD)/harness/cli/main.o $(BUILD)/libhylab.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libhylab.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(BUILD)/libhylab.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libhylab.a $(LDLIBS)

test: check-test-deps $(HYLAB_BIN) $(TEST_BINS)
	@HYLAB=./$(HYLAB_BIN) BUILD=$(BUILD) HYLAB_PYTHON=$(HYLAB_PYTHON) sh tests/run_tests.sh $(TEST_BINS) $(TEST_SCRIPTS)

# The tokenizer benchmark times Hugging Face `tokenizers` (PyPI) in the same
# run: a venv made once (needs the network the first time).
$(BUILD)/venv-bench/bin/python:
	sh tests/tokenizer/make_venv.sh $(BUILD)

bench: check-deps $(HYLAB_BIN) $(BENCH_BINS) $(BUILD)/venv-bench/bin/python
	@for b in $(BENCH_BINS); do echo "== $$b"; $$b || exit 1; done

# Installs missing Debian packages (root: apt-get; otherwise says what to run).
deps:
	@sh tests/install_deps.sh $(DEPS_PKGS)

check-deps:
	@test -f /usr/include/cjson/cJSON.h && test -f /usr/include/sqlite3.h && \
	  { test -f /usr/include/$$(gcc -print-multiarch)/cblas.h || test -f /usr/include/cblas.h; } || \
	  { echo "hylab: missing build dependencies; run 'make deps' (needs: $(DEPS_PKGS))" >&2; exit 1; }

check-test-deps: check-deps $(HYLAB_BIN)
	@$(HYLAB_PYTHON) -c 'import numpy' 2>/dev/null || \
	  { echo "hylab: $(HYLAB_PYTHON) cannot import numpy (the reference forward needs it); run 'make deps' (python3-numpy)" >&2; exit 1; }
	@./$(HYLAB_BIN) data verify >/dev/null 2>&1 || { ./$(HYLAB_BIN) data verify >&2; \
	  echo "hylab: the tests read the evaluation sets, corpora and tokenizer files from the data directory (HYLAB_DATA, else ~/.local/share/hylab), and it is incomplete (above); 'make data' downloads what can be downloaded" >&2; exit 1; }

# Downloads the data files into the data directory (text/datadir.h; needs the
# network). A checkout next to a shared/data folder already has them.
data: $(HYLAB_BIN)
	./$(HYLAB_BIN) data fetch

quickstart: deps hylab
	./hylab run sweeps/quickstart.json --db results.db --jobs 2
	./hylab report --db results.db plots/quickstart.json --out reports/quickstart
	./hylab report --db results.db plots/training.json --out reports/quickstart

clean:
	rm -rf build build-san hylab
