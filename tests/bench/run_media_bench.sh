#!/bin/sh
# The media benchmark (tests/bench/README.md): builds rtcgw and the load client in Release and
# runs tests/bench/media_bench.js in a private network namespace (only lo, so no port can
# collide with anything else on the machine), rtcgw pinned to core 1, everything else on core 0.
#
#   tests/bench/run_media_bench.sh [N...]          default: 50 200 500
#
# Environment: BENCH_BUILD_DIR (build-bench), BENCH_WINDOW (steady window, 20 s),
# BENCH_BASELINE_WINDOW (10 s), BENCH_SRTP_PROFILES (the load client's DTLS-SRTP offer, OpenSSL
# names, colon separated; default SRTP_AEAD_AES_128_GCM, the profile of the peer figures;
# SRTP_AES128_CM_SHA1_80 for the other one), BENCH_GATEWAYS (rtcgw; "rtcgw,rtpengine" runs
# rtpengine 10.5 userspace, one worker thread, on the same load right after rtcgw at each N),
# BENCH_OUT (result directory; default a new /tmp/rtcgw-bench-*), BENCH_TIMEOUT (whole run, 1800 s),
# BENCH_FIFO (10), BENCH_NICE (-10).
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BENCH_BUILD_DIR:-build-bench}
[ "$(nproc)" -ge 2 ] || { echo "needs 2 CPUs (rtcgw on core 1, load on core 0)" >&2; exit 2; }

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DRTCGW_TESTS=ON >/dev/null
cmake --build "$BUILD" -j2 --target rtcgw rtcgw_bench_media_load

[ $# -gt 0 ] || set -- 50 200 500
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

set -- --rtcgw "$BUILD/rtcgw" --load "$BUILD/tests/bench/rtcgw_bench_media_load" \
  --window "${BENCH_WINDOW:-20}" --baseline-window "${BENCH_BASELINE_WINDOW:-10}" "$@"
set -- --srtp-profiles "${BENCH_SRTP_PROFILES:-SRTP_AEAD_AES_128_GCM}" \
  --gateways "${BENCH_GATEWAYS:-rtcgw}" "$@"
[ -z "${BENCH_OUT:-}" ] || set -- --out "$BENCH_OUT" "$@"

if [ "$(id -u)" = 0 ]; then NS="unshare --net"; else NS="unshare --net --map-root-user"; fi
# On a machine shared with other jobs, rtcgw and the load client run SCHED_FIFO (BENCH_FIFO,
# priority 10; 0 for the normal scheduler) so that they run as soon as they have work, as they
# would on a quiet machine, and the driver at nice -10 (BENCH_NICE; 0 for none). Both need root
# or CAP_SYS_NICE.
NICE=${BENCH_NICE:--10}
[ "$NICE" = 0 ] || NS="nice -n $NICE $NS"
set -- --fifo "${BENCH_FIFO:-10}" "$@"

# timeout stops the namespace's shell and, through it, node, which stops rtcgw and the load
# client by PID; --kill-after for the case it does not.
exec timeout --kill-after=15 "${BENCH_TIMEOUT:-1800}" $NS sh -c \
  'ip link set lo up && exec taskset -c 0 node tests/bench/media_bench.js "$@"' media-bench "$@"
