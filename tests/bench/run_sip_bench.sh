#!/bin/sh
# The signalling benchmark (tests/bench/README.md): builds rtcgw in Release and runs
# tests/bench/sip_bench.js in a private network namespace (only lo), the gateway pinned to core 1,
# the load, the registrar (sipp) and the driver on core 0.
#
#   tests/bench/run_sip_bench.sh [RATE...]        default: 1000 3000 6000 REGISTER/s
#
# Environment: BENCH_BUILD_DIR (build-bench), BENCH_GATEWAYS (rtcgw; "rtcgw,kamailio" runs
# Kamailio 5.6 as the WebSocket edge proxy, tests/bench/kamailio_ws_edge.cfg, on the same load
# right after rtcgw at each rate), BENCH_WINDOW (10 s), BENCH_CONNS (50 WebSocket connections),
# BENCH_TRANSPORT (udp, or tcp: the gateway reaches the registrar over one TCP connection),
# BENCH_OUT (result directory; default a new /tmp/rtcgw-sip-bench-*), BENCH_TIMEOUT (whole run,
# 900 s), BENCH_FIFO (10; 0 for the normal scheduler), BENCH_NICE (-10).
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BENCH_BUILD_DIR:-build-bench}
[ "$(nproc)" -ge 2 ] || { echo "needs 2 CPUs (the gateway on core 1, load on core 0)" >&2; exit 2; }

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DRTCGW_TESTS=ON >/dev/null
cmake --build "$BUILD" -j2 --target rtcgw

RATES=$(echo "${*:-1000 3000 6000}" | tr ' ' ',')
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

set -- --rtcgw "$BUILD/rtcgw" --rates "$RATES" --window "${BENCH_WINDOW:-10}" \
  --conns "${BENCH_CONNS:-50}" --gateways "${BENCH_GATEWAYS:-rtcgw}" --fifo "${BENCH_FIFO:-10}" \
  --transport "${BENCH_TRANSPORT:-udp}"
[ -z "${BENCH_OUT:-}" ] || set -- --out "$BENCH_OUT" "$@"

if [ "$(id -u)" = 0 ]; then NS="unshare --net"; else NS="unshare --net --map-root-user"; fi
NICE=${BENCH_NICE:--10}
[ "$NICE" = 0 ] || NS="nice -n $NICE $NS"

# timeout stops the namespace's shell and, through it, node, which stops the gateway and sipp
# by PID; --kill-after for the case it does not.
exec timeout --kill-after=15 "${BENCH_TIMEOUT:-900}" $NS sh -c \
  'ip link set lo up && exec taskset -c 0 node tests/bench/sip_bench.js "$@"' sip-bench "$@"
