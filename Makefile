# The two commands of a fresh machine: `make demo` and `make test`.
# Both install what they need: Debian packages through apt-get when missing,
# Python packages into .venv, then build the extension.

PYTHON       ?= python3
VENV         := .venv
REF_VENV     := .venv-ref
VPY          := $(VENV)/bin/python
CMAKE        := $(VENV)/bin/cmake
CTEST        := $(VENV)/bin/ctest
DEB_PACKAGES := gcc libc6-dev libasan8 libubsan1 libuv1-dev pkg-config spin
# The extension is built with warnings as errors, as the C tests are.
BUILD_FLAGS  := -Ccmake.define.IPO_WERROR=ON
# Everything the extension's build reads (the core, loop/ and python/, the
# build files, the README as the package's description): a change in any of
# them rebuilds the extension before the Python tests run.
SOURCES      := $(shell find core loop python -name '*.[ch]' -o -name '*.py' -o -name '*.pyi' \
                    -o -name py.typed) \
                CMakeLists.txt pyproject.toml README.md

.PHONY: demo demo-c test test-model build-c test-c test-c-sanitize test-python bench stress clean system-deps

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

test: test-c test-c-sanitize test-model test-python

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

# The waiter's model (tests/model/waiter.pml) under SPIN: mutual exclusion, and
# no waiter left asleep for good (a lost wakeup). With budgets of cancels and
# looks (event loops), without them (so that any stuck sleeper shows), with
# two waiters sharing a process's doorbell, with an idle waiter for messages
# that changes the word under the others' compare-and-swap. Two broken
# variants must be caught: a cancel that does not pass its ring on, and a
# try that takes a swap failed by a new sleeper for "held".
MODEL_CONFIGS := "-DN=2 -DROUNDS=2" "-DN=3 -DROUNDS=1" "-DN=2 -DROUNDS=1 -DTWO_IN_ONE" \
                 "-DN=2 -DROUNDS=3 -DCANCELS=0 -DLOOKS=0" \
                 "-DN=2 -DROUNDS=1 -DTWO_IN_ONE -DCANCELS=0 -DLOOKS=0" \
                 "-DN=3 -DROUNDS=1 -DIDLER -DCANCELS=0 -DLOOKS=0"
MODEL_BROKEN  := "-DN=3 -DROUNDS=1 -DBROKEN" "-DN=2 -DROUNDS=2 -DIDLER -DCANCELS=0 -DLOOKS=0 -DBROKEN_TRY"
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
	    if grep -q "invalid end state" pan.log; then \
	        echo "model $$cfg: the lost wakeup is found, as it must be"; \
	    else cat pan.log; echo "a broken model passed: the model no longer checks what $$cfg breaks"; exit 1; fi; done

# The C service example (built by build-c) is part of the Python tests.
test-python: $(VENV)/.built build-c
	IPO_ECHO_SERVICE=$(abspath build/c/ipo_echo_service) $(VPY) -m pytest -q --ignore=tests/python/test_trust.py
	# In a process of its own for now: after test_pickled has made classes
	# known to the process, an enum renamed to a known non-enum class is
	# refused with ValueError instead of UnknownClassError (nothing runs
	# either way); to be fixed in the class cache (issue 10, open).
	$(VPY) -m pytest -q tests/python/test_trust.py

bench: $(VENV)/.built build-c $(REF_VENV)/.deps
	$(VPY) benchmarks/bench_transfer.py --c-limits build/c/copy_limits
	$(VPY) benchmarks/bench_latency.py --c-dir build/c
	$(VPY) benchmarks/bench_idle.py --reference $(REF_VENV)/bin/python
	$(VPY) benchmarks/bench_objects.py --reference $(REF_VENV)/bin/python
	$(VPY) benchmarks/bench_recovery.py

# Longer runs than make test: 1,000 kills of a busy holder at random moments;
# a kill at every crash point of longer workloads, six more seeds (make
# test runs seed 1, 8 turns).
stress: $(VENV)/.built build-c
	IPO_TAKEOVER_KILLS=1000 $(VPY) -m pytest -q -s tests/python/test_takeover.py -k kills
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
