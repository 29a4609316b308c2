# The README's commands. Every target installs what is missing first (scripts/install-deps.sh is
# idempotent and fast when nothing is missing), so each works on a fresh Debian 12 machine.
PRESET ?= release
BIN     = build/$(PRESET)/bin
LISTEN ?= 127.0.0.1:7878
HTTP_LISTEN ?= 127.0.0.1:7879
FUZZ_SECONDS ?= 60

.PHONY: all deps build run test test-s3 test-asan test-tsan test-browser torture fuzz bench package clean
all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET)

run: build
	@mkdir -p var/data var/cache
	@echo "ferryd on $(LISTEN) (native) and $(HTTP_LISTEN) (HTTP); try: $(BIN)/ferry --server $(LISTEN) put README.md && $(BIN)/ferry --server $(LISTEN) ls"
	@echo "or: curl http://$(HTTP_LISTEN)/files/README.md, or a browser at http://$(HTTP_LISTEN)/"
	@exec $(BIN)/ferryd --listen $(LISTEN) --http-listen $(HTTP_LISTEN) --data var/data --cache var/cache

test: build
	@ctest --preset $(PRESET)

# The S3 store and the three-node cluster on a real S3 server (Ceph RGW) and HAProxy, both
# installed here; `make test` runs these tests too when they are installed, and skips them
# (saying why) when not. docs/scale-out.md.
test-s3: build
	@bash scripts/install-deps.sh --s3
	@ctest --test-dir build/$(PRESET) -L s3 --output-on-failure --timeout 900

# The HTML listing in headless Chromium (installed here, not by `make test`); the screenshot
# lands in build/$(PRESET)/artifacts/.
test-browser: build
	@bash scripts/install-deps.sh --browser
	@ctest --test-dir build/$(PRESET) -L browser --output-on-failure --timeout 300

# The reliability suite (tests/reliability, docs/reliability.md) with large counts: 200 kills
# during uploads, 5,000 faulty clients, a 30-minute soak. `make test` runs it with small ones.
torture: build
	@FERRY_TORTURE=1 ctest --test-dir build/$(PRESET) -L reliability --output-on-failure --timeout 3600

test-asan:
	@$(MAKE) --no-print-directory test PRESET=asan

test-tsan:
	@$(MAKE) --no-print-directory test PRESET=tsan

# Every libFuzzer target (fuzz/, docs/fuzzing.md) for FUZZ_SECONDS each, under ASan + UBSan;
# fails on any crash, broken invariant, leak or sanitizer report.
fuzz:
	@bash scripts/install-deps.sh --fuzz
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz
	@bash scripts/fuzz.sh $(FUZZ_SECONDS)

# Micro-benchmarks (bench/micro). The side-by-side comparison with nginx is bench/compare.sh.
bench: build
	@for b in parse_bench checksum_bench policy_bench; do build/$(PRESET)/bin/$$b; done

# The Debian package, build/$(PRESET)/ferry_VERSION_ARCH.deb (cmake/Packaging.cmake); the
# package test (ctest -L package) builds one and installs it into a throwaway root.
package: build
	@cd build/$(PRESET) && cpack -G DEB

clean:
	rm -rf build
