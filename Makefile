# Thin wrapper: CMake builds, ctest tests. `make run` and `make test` are the
# two commands of the README; CI runs `make lint` and `make test` (.ci/run).
BUILD    ?= build
SANITIZE ?= build-sanitize
LINT_DIR ?= build-lint
JOBS     ?= $(shell nproc)
FUZZ_SECONDS ?= 10

.PHONY: all deps build run test test-release test-sanitize fuzz security bench format lint clean

all: build

# Debian packages, then jose: the independent signer the JWT tests make their tokens with
# (tests/jwt/sign.mjs; from the npm registry, pinned by tests/jwt/package-lock.json).
deps:
	@bash scripts/deps.sh
	@[ -d tests/jwt/node_modules/jose ] || npm ci --prefix tests/jwt --no-audit --no-fund

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j$(JOBS)

run: build
	@bash scripts/dev-run.sh $(BUILD)

# The whole suite, twice: the hardened release build and the ASan+UBSan build;
# then every fuzz harness briefly.
test: deps test-release test-sanitize fuzz

test-release: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) -LE external

test-sanitize: deps
	cmake -S . -B $(SANITIZE) -DBW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(SANITIZE) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(SANITIZE) --output-on-failure -j$(JOBS) -LE external

fuzz: deps
	bash scripts/fuzz-smoke.sh build-fuzz $(FUZZ_SECONDS)

# The attack suite, the external scanners (testssl.sh) and every fuzz harness
# for 60 s (about 15 minutes in all).
security: build
	@BW_EXTRA_PACKAGES=testssl.sh bash scripts/deps.sh
	ctest --test-dir $(BUILD) --output-on-failure -L 'security|external'
	@echo "testssl summary: $(BUILD)/testssl-summary.txt"
	bash scripts/fuzz-smoke.sh build-fuzz 60

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# cppcheck, then clang-tidy (.clang-tidy) with a compile database of its own;
# fails on any finding. One clang-tidy per file: given several files, clang-tidy
# 14 reports a false "uninitialized va_list" in all but the first (LLVM bug 41311).
lint: deps
	cppcheck --enable=warning,style,performance,portability --std=c11 --inline-suppr -q \
	  --error-exitcode=1 -Iframework/include framework/src app
	cmake -S . -B $(LINT_DIR) -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
	find framework/src app -name '*.c' | sort | xargs -n1 -P$(JOBS) clang-tidy -p $(LINT_DIR) --quiet

# TLS handshakes/s and keep-alive requests/s against bare CivetWeb on OpenSSL 3
# (bench/run.sh, docs/performance.md). Not part of `make test` or CI.
bench: build
	bash bench/run.sh $(BUILD)
	bash bench/validate.sh $(BUILD)
	bash bench/ratelimit.sh $(BUILD)
	bash bench/audit.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(SANITIZE) $(LINT_DIR) build-fuzz
