# The two commands of a fresh machine: `make demo` and `make test`.
# Both install what they need: Debian packages through apt-get when missing,
# Python packages into .venv, then build the extension.

PYTHON       ?= python3
VENV         := .venv
REF_VENV     := .venv-ref
VPY          := $(VENV)/bin/python
CMAKE        := $(VENV)/bin/cmake
CTEST        := $(VENV)/bin/ctest
DEB_PACKAGES := gcc libc6-dev libasan8 libubsan1 libuv1-dev pkg-config spin clang libclang-rt-14-dev
# The extension is built with warnings as errors, as the C tests are.
BUILD_FLAGS  := -Ccmake.define.IPO_WERROR=ON
# Everything the extension's build reads (the core, loop/ and python/, the
# build files, the README as the package's description): a change in any of
# them rebuilds the extension before the Python tests run.
SOURCES      := $(shell find core loop python -name '*.[ch]' -o -name '*.py' -o -name '*.pyi' \
                    -o -name py.typed) \
                CMakeLists.txt $(wildcard cmake/*.cmake) pyproject.toml README.md

.PHONY: demo demo-c test test-model build-c test-c test-c-sanitize test-python bench bench-detail stress \
        clean system-deps build-fuzz test-fuzz stress-fuzz test-install test-wheel

demo: $(VENV)/.built
	@echo "== receiver and sender, two processes =="
	@region=ipc_py_objects_demo_$$$$; \
	 $(VPY) examples/receiver.py $$region & receiver=$$!; \
	 $(VPY) examples/sender.py $$region; sender=$$?; \
	 wait $$receiver; receiver=$$?; \
	 test $$sender -eq 0 && test $$receiver -eq 0
	@echo "== live shared objects: a dataclass, a dict with a numpy array, an IntEnum-indexed list =="
	@region=ipc_py_objects_objects_$$$$; cd examples/shared_objects; \
	 ../../$(VPY) receiver.py $$region & receiver=$$!; \
	 ../../$(VPY) sender.py $$region; sender=$$?; \
	 wait $$receiver; receiver=$$?; \
	 test $$sender -eq 0 && test $$receiver -eq 0

# The libuv C service answering a Python peer.
demo-c: $(VENV)/.built build-c
	@echo "== a C service on libuv and a Python peer, two processes =="
	@name=ipo_echo_$$$$; \
	 build/c/ipo_echo_service $$name & service=$$!; \
	 $(VPY) examples/c_service/peer.py $$name; peer=$$?; \
	 wait $$service; service=$$?; \
	 test $$peer -eq 0 && test $$service -eq 0

test: test-c test-c-sanitize test-model test-install test-wheel test-python test-fuzz

# `make stress` (below) also fuzzes afresh: stress-fuzz.
stress: stress-fuzz

# The C tests (and the benchmarks' C baselines), warnings as errors.
build-c: $(VENV)/.deps
	$(CMAKE) -S . -B build/c -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIPO_WERROR=ON \
	    -DCMAKE_MAKE_PROGRAM=$(abspath $(VENV)/bin/ninja) >/dev/null
	$(CMAKE) --build build/c

test-c: build-c
	cd build/c && $(abspath $(CTEST)) --output-on-failure

# The same tests under AddressSanitizer and UndefinedBehaviorSanitizer.
test-c-sanitize: $(VENV)/.deps
	$(CMAKE) -S . -B build/sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug -DIPO_WERROR=ON \
	    -DIPO_SANITIZE=ON -DCMAKE_MAKE_PROGRAM=$(abspath $(VENV)/bin/ninja) >/dev/null
	$(CMAKE) --build build/sanitize
	cd build/sanitize && $(abspath $(CTEST)) --output-on-failure

# The libFuzzer targets (tests/fuzz), with clang, under AddressSanitizer and
# UndefinedBehaviorSanitizer: fuzz_region (a damaged region image joined,
# checked, read and changed in C) and fuzz_decode (the Python extension's
# decoder, with the interpreter embedded). `make test` replays their saved
# corpora; `make stress` fuzzes afresh from them for FUZZ_SECONDS each and
# leaves what it found under build/fuzz/found-*.
FUZZ_SECONDS ?= 120
FUZZ_ENV     := UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
build-fuzz: $(VENV)/.deps
	CC=clang $(CMAKE) -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DIPO_WERROR=ON \
	    -DIPO_SANITIZE=ON -DIPO_FUZZ=ON -DIPO_BUILD_TESTS=OFF -DIPO_BUILD_BENCHMARKS=OFF \
	    -DPython_EXECUTABLE=$(abspath $(VPY)) -DCMAKE_MAKE_PROGRAM=$(abspath $(VENV)/bin/ninja) >/dev/null
	$(CMAKE) --build build/fuzz

test-fuzz: build-fuzz
	@cd build/fuzz && $(FUZZ_ENV) ./tests/fuzz/fuzz_region ../../tests/fuzz/corpus/region/* 2>fuzz_region.log \
	    && echo "fuzz_region: $$(ls ../../tests/fuzz/corpus/region | wc -l) saved inputs replayed, no finding" \
	    || { tail -40 fuzz_region.log; exit 1; }
	@cd build/fuzz && $(FUZZ_ENV) ASAN_OPTIONS=detect_leaks=0 ./tests/fuzz/fuzz_decode ../../tests/fuzz/corpus/decode/* 2>fuzz_decode.log \
	    && echo "fuzz_decode: $$(ls ../../tests/fuzz/corpus/decode | wc -l) saved inputs replayed, no finding" \
	    || { tail -40 fuzz_decode.log; exit 1; }

stress-fuzz: build-fuzz
	@cd build/fuzz && for t in region decode; do \
	    mkdir -p found-$$t && rm -f crash-* timeout-* oom-*; \
	    leaks=$$([ $$t = decode ] && echo detect_leaks=0 || echo detect_leaks=1); \
	    $(FUZZ_ENV) ASAN_OPTIONS=$$leaks ./tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 \
	        -rss_limit_mb=4096 -print_final_stats=1 found-$$t ../../tests/fuzz/corpus/$$t > fuzz_$$t.log 2>&1 \
	        || { grep -v -E '^#[0-9]+ +(NEW|REDUCE|pulse)' fuzz_$$t.log | tail -40; exit 1; }; \
	    echo "fuzz_$$t: $$(grep -o 'stat::number_of_executed_units: *[0-9]*' fuzz_$$t.log | grep -o '[0-9]*$$') inputs in $(FUZZ_SECONDS) s, no finding"; \
	done

# The waiter's model (tests/model/waiter.pml) under SPIN: mutual exclusion, and
# no waiter left asleep for good (a lost wakeup), with the line (one waiter
# for access rung at a time, due, handed turns). With budgets of cancels and
# looks (event loops), without them (so that any stuck sleeper shows), with
# two waiters sharing a process's doorbell, with an idle waiter for messages
# that changes the word under the others' compare-and-swap, with rotation.
# Four broken variants must be caught: a cancel that does not pass its
# ring on, a try that takes a swap failed by a new sleeper for "held", a
# cancel that leaves its slot on the line, and a wake() that stops choosing
# again after a bound (as the code once did) while the word is free. With the line, three
# participants with every budget, or two with a second waiter in one of
# them, take gigabytes: the two waiters sharing a doorbell are one process
# here (N=1), and three participants are run only broken.
MODEL_CONFIGS := "-DN=2 -DROUNDS=2" "-DN=2 -DROUNDS=3 -DCANCELS=0 -DLOOKS=0" \
                 "-DN=1 -DROUNDS=2 -DTWO_IN_ONE" "-DN=1 -DROUNDS=3 -DTWO_IN_ONE -DCANCELS=0 -DLOOKS=0" \
                 "-DN=2 -DROUNDS=2 -DIDLER -DCANCELS=0 -DLOOKS=0" "-DN=2 -DROUNDS=2 -DROTATION"
MODEL_BROKEN  := "-DN=3 -DROUNDS=1 -DLOOKS=0 -DBROKEN" "-DN=2 -DROUNDS=2 -DIDLER -DCANCELS=0 -DLOOKS=0 -DBROKEN_TRY" \
                 "-DN=3 -DROUNDS=1 -DLOOKS=0 -DBROKEN_LINE_CANCEL" "-DN=3 -DROUNDS=1 -DLOOKS=0 -DBROKEN_CAP"
# The takeover model (tests/model/takeover.pml): processes that die holding
# access, or mid-release between a ring's pending flag and its doorbell, or
# after handing the turn to a due waiter, and waiters that die on the line
# or with a turn handed and unclaimed, are taken over by waiters that watch
# the others' deaths; mutual exclusion among the living, no waiter left
# asleep. N=2 x 3 turns leaves a process to want a turn after one was
# handed to a waiter that died; N=3 with two crashes (18 M states with the
# line) is not run. Broken variants that must be caught: a
# takeover from a live (stopped) holder on a time limit (two live holders),
# sleepers that watch no deaths (a dead holder stalls them), and a takeover
# that ignores an owner field marked HANDED (a dead waiter's handed turn
# stalls everyone).
TAKEOVER_CONFIGS := "-DN=3 -DROUNDS=1" "-DN=2 -DROUNDS=3" "-DN=2 -DROUNDS=2 -DCRASHES=2"
TAKEOVER_BROKEN  := "-DN=3 -DROUNDS=1 -DBROKEN:assertion violated" \
                    "-DN=3 -DROUNDS=1 -DBROKEN_WATCH:invalid end state" \
                    "-DN=2 -DROUNDS=3 -DBROKEN_HANDED:invalid end state"
# The fair turns' model (tests/model/handoff.pml): the line, a turn handed
# to the waiter that was rung and lost the race, taken back from one that
# left; mutual exclusion and nobody left asleep or a turn left handed.
# Broken variants that must be caught: a releaser that does not take back a
# turn handed to a waiter that left, and one that does not look whether the
# waiter it put on the line still waits, and a rotation that hands the turn
# to a waiter rung without seeing that it left.
HANDOFF_CONFIGS := "-DN=2 -DROUNDS=3" "-DN=3 -DROUNDS=1" "-DN=3 -DROUNDS=1 -DCANCELS=2" \
                   "-DN=2 -DROUNDS=3 -DCANCELS=0"
HANDOFF_BROKEN  := "-DN=2 -DROUNDS=3 -DBROKEN" "-DN=2 -DROUNDS=3 -DCANCELS=0 -DBROKEN_LINE" \
                   "-DN=2 -DROUNDS=3 -DBROKEN_ROTATION"
# The channel's ring (tests/model/channel.pml): one sender and one
# receiver, each of which may die at any step and be taken over; no message
# published is lost, repeated, reordered or read torn, and no slot is read
# while written. Broken variants that must be caught: the tail published
# before the slot is written, the head released before the slot is read.
CHANNEL_CONFIGS := "-DSLOTS=2 -DM=4" "-DSLOTS=1 -DM=3" \
                   "-DSLOTS=3 -DM=6 -DSENDER_DEATHS=2 -DRECEIVER_DEATHS=2"
CHANNEL_BROKEN  := "-DSLOTS=2 -DM=4 -DBROKEN_ORDER" "-DSLOTS=2 -DM=4 -DBROKEN_RELEASE"
test-model: system-deps
	@mkdir -p build/model
	@cd build/model && for cfg in $(MODEL_CONFIGS); do \
	    spin $$cfg -a ../../tests/model/waiter.pml >/dev/null && \
	    cc -O2 -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m1000000 > pan.log 2>&1; \
	    if grep -q "errors: 0" pan.log; then \
	        echo "model $$cfg: $$(grep -o '[0-9]* states, stored' pan.log), no error"; \
	    else cat pan.log; exit 1; fi; done
	@cd build/model && for cfg in $(MODEL_BROKEN); do \
	    spin $$cfg -a ../../tests/model/waiter.pml >/dev/null && \
	    cc -O2 -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m1000000 > pan.log 2>&1; \
	    if grep -q "pan:1: invalid end state" pan.log; then \
	        echo "model $$cfg: the lost wakeup is found, as it must be"; \
	    else cat pan.log; echo "a broken model passed: the model no longer checks what $$cfg breaks"; exit 1; fi; done
	@cd build/model && for cfg in $(HANDOFF_CONFIGS); do \
	    spin $$cfg -a ../../tests/model/handoff.pml >/dev/null && \
	    cc -O2 -w -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m1000000 > pan.log 2>&1; \
	    if grep -q "errors: 0" pan.log; then \
	        echo "handoff model $$cfg: $$(grep -o '[0-9]* states, stored' pan.log), no error"; \
	    else cat pan.log; exit 1; fi; done
	@cd build/model && for cfg in $(HANDOFF_BROKEN); do \
	    spin $$cfg -a ../../tests/model/handoff.pml >/dev/null && \
	    cc -O2 -w -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m1000000 > pan.log 2>&1; \
	    if grep -q "pan:1: invalid end state" pan.log; then \
	        echo "handoff model $$cfg: the turn left for good is found, as it must be"; \
	    else cat pan.log; echo "a broken model passed: the model no longer checks what $$cfg breaks"; exit 1; fi; done
	@cd build/model && for cfg in $(TAKEOVER_CONFIGS); do \
	    spin $$cfg -a ../../tests/model/takeover.pml >/dev/null && \
	    cc -O2 -w -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m1000000 > pan.log 2>&1; \
	    if grep -q "errors: 0" pan.log; then \
	        echo "takeover model $$cfg: $$(grep -o '[0-9]* states, stored' pan.log), no error"; \
	    else cat pan.log; exit 1; fi; done
	@cd build/model && for pair in $(TAKEOVER_BROKEN); do \
	    cfg=$${pair%%:*}; want=$${pair#*:}; \
	    spin $$cfg -a ../../tests/model/takeover.pml >/dev/null && \
	    cc -O2 -w -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m1000000 > pan.log 2>&1; \
	    if grep -q "pan:1: $$want" pan.log; then \
	        echo "takeover model $$cfg: \"$$want\" is found, as it must be"; \
	    else cat pan.log; echo "a broken model passed: the model no longer checks what $$cfg breaks"; exit 1; fi; done
	@cd build/model && for cfg in $(CHANNEL_CONFIGS); do \
	    spin $$cfg -a ../../tests/model/channel.pml >/dev/null && \
	    cc -O2 -w -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m1000000 > pan.log 2>&1; \
	    if grep -q "errors: 0" pan.log; then \
	        echo "channel model $$cfg: $$(grep -o '[0-9]* states, stored' pan.log), no error"; \
	    else cat pan.log; exit 1; fi; done
	@cd build/model && for cfg in $(CHANNEL_BROKEN); do \
	    spin $$cfg -a ../../tests/model/channel.pml >/dev/null && \
	    cc -O2 -w -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m1000000 > pan.log 2>&1; \
	    if grep -q "pan:1: assertion violated" pan.log; then \
	        echo "channel model $$cfg: the lost or torn message is found, as it must be"; \
	    else cat pan.log; echo "a broken model passed: the model no longer checks what $$cfg breaks"; exit 1; fi; done

# The C libraries as a C user installs them (cmake --install under a
# temporary prefix), and a C program built against that copy through
# pkg-config and find_package(IpcPyObjects), each answering a Python peer.
test-install: $(VENV)/.built build-c
	tests/install/run.sh build/c build/install $(VPY) $(CMAKE)

# The Python package as a library user installs it: `pip install .` and
# `pip wheel .` in bare venvs, each passing a smoke test; without a C
# compiler, the build's one clear sentence.
test-wheel: $(VENV)/.deps
	tests/install/wheel.sh build/wheel $(PYTHON) $(VENV)

# The C service example (built by build-c) is part of the Python tests.
test-python: $(VENV)/.built build-c
	IPO_ECHO_SERVICE=$(abspath build/c/ipo_echo_service) $(VPY) -m pytest -q

# The suite against every peer (python/ipc_py_objects/bench), then the
# README's performance section rewritten from its results. BENCH_ARGS=--quick
# for a run of a few minutes.
BENCH_ARGS ?=
bench: $(VENV)/.built $(VENV)/.bench-deps build-c $(REF_VENV)/.deps
	@# A contender that failed is in the results (and the section) too; the
	@# exit status still says so.
	$(VPY) -m ipc_py_objects.bench --reference $(REF_VENV)/bin/python --c-dir build/c \
	    --output benchmarks/results $(BENCH_ARGS); status=$$?; \
	 $(VPY) benchmarks/update_readme.py benchmarks/results/results.json README.md && exit $$status

# Each benchmark alone, in more detail, beside its baselines.
bench-detail: $(VENV)/.built build-c $(REF_VENV)/.deps
	$(VPY) benchmarks/bench_transfer.py --c-limits build/c/copy_limits
	$(VPY) benchmarks/bench_latency.py --c-dir build/c
	$(VPY) benchmarks/bench_idle.py --reference $(REF_VENV)/bin/python
	$(VPY) benchmarks/bench_objects.py --reference $(REF_VENV)/bin/python
	$(VPY) benchmarks/bench_recovery.py

# Longer runs than make test: 1,000 kills of a busy holder at random moments,
# 300 of one replacing values in place; eight participants with one killed
# and restarted every 1-4 s for 5 minutes (make test: 60 s); a kill at every
# crash point of longer workloads, six more seeds (make test runs seed 1, 8
# turns).
stress: $(VENV)/.built build-c
	IPO_TAKEOVER_KILLS=1000 IPO_REPLACE_KILLS=300 $(VPY) -m pytest -q -s tests/python/test_takeover.py -k kills
	IPO_KILL_RESTART_SECONDS=300 $(VPY) -m pytest -q -s tests/python/test_kill_restart.py
	build/c/tests/c/test_crash --seed 2 --seeds 6 --turns 20

system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	 if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	 fi

$(VENV)/.deps: requirements-dev.txt | system-deps
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The peers of the benchmark suite: the package's `bench` extra, one at a
# time into .venv, so that one that does not install here is reported (and
# the suite skips it) without stopping the others.
$(VENV)/.bench-deps: pyproject.toml | $(VENV)/.deps
	@for req in $$($(VPY) -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['bench']))"); do \
	    $(VPY) -m pip install -q --disable-pip-version-check "$$req" \
	        || echo "could not install $$req: the benchmark suite will skip it"; done
	touch $@

# The reference package, for the benchmarks only, in a venv of its own.
# cengal_light 5.0.1 (what InterProcessPyObjects 2.0.0 asks for) ships its
# CPython 3.11 wheel with a compiled module under the wrong name, so the
# import fails; 4.4.0 has the same API and imports.
$(REF_VENV)/.deps:
	test -x $(REF_VENV)/bin/python || $(PYTHON) -m venv $(REF_VENV)
	$(REF_VENV)/bin/python -m pip install -q --disable-pip-version-check \
	    InterProcessPyObjects==2.0.0 typing_extensions numpy
	$(REF_VENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps cengal_light==4.4.0
	touch $@

$(VENV)/.built: $(VENV)/.deps $(SOURCES)
	$(VPY) -m pip install -q --disable-pip-version-check --no-build-isolation $(BUILD_FLAGS) .
	touch $@

clean:
	rm -rf build $(VENV) $(REF_VENV)
