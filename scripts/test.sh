#!/usr/bin/env bash
# Every test of rtcgw, as CI runs them: installs what is missing (scripts/setup.sh), builds with
# AddressSanitizer + UndefinedBehaviorSanitizer in build-test/, runs ctest there (unit, integration,
# sipp and browser tests), after the fuzz build and its short runs when there are fuzz targets
# (so that ctest's summary of the main tests comes last). Exits non-zero when anything failed.
#   JOBS=N   parallel build and test jobs (default: the number of cores)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs=${JOBS:-$(nproc)}
section() { printf '\n==== %s\n' "$*"; }

section "setup"
scripts/setup.sh

# Sanitizers: stop at the first error with a stack; leaks fail the process at exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:print_stacktrace=1:strict_init_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
if [[ -f tests/lsan.supp ]]; then  # leaks inside third-party libraries, one reason each
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
fi

section "build (ASan + UBSan, Debug) in build-test"
cmake -S . -B build-test -DRTCGW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
cmake --build build-test -j"$jobs"

status=0

# ---- FUZZ HOOK ---------------------------------------------------------------------------------
# When tests/fuzz/CMakeLists.txt exists: a clang build with -DRTCGW_FUZZ=ON (libFuzzer, ASan,
# UBSan) in build-fuzz/. tests/fuzz/CMakeLists.txt registers a short bounded run of each target
# (e.g. its corpus plus -max_total_time) with add_test(... LABELS fuzz) after enable_testing();
# they run here from build-fuzz/tests/fuzz.
if [[ -f tests/fuzz/CMakeLists.txt ]]; then
  section "fuzz build (clang, libFuzzer) in build-fuzz"
  if CC=clang CXX=clang++ cmake -S . -B build-fuzz -DRTCGW_FUZZ=ON -DRTCGW_TESTS=OFF \
       -DCMAKE_BUILD_TYPE=Debug && cmake --build build-fuzz -j"$jobs"; then
    if [[ -f build-fuzz/tests/fuzz/CTestTestfile.cmake ]]; then
      section "fuzz runs"
      ctest --test-dir build-fuzz/tests/fuzz --output-on-failure -j"$jobs" --timeout 300 ||
        status=1
    fi
  else
    status=1
  fi
fi
# ---- end of FUZZ HOOK --------------------------------------------------------------------------

section "ctest"
# A test without a TIMEOUT of its own gets 300 s; --no-tests=error: finding none is a failure.
ctest --test-dir build-test --output-on-failure -j"$jobs" --timeout 300 --no-tests=error ||
  status=$?

exit "$status"
