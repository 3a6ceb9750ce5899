#!/usr/bin/env bash
# The demo, all on loopback: a browser phone talks SIP over WebSocket to rtcgw, which proxies to
# an IMS core stand-in (Kamailio with demo/kamailio.cfg: registrar with digest auth, users alice,
# bob and carol, password "demo") whose "echo" user is a sipp far end answering calls and echoing
# their RTP (demo/echo_uas.xml).
#
#   ./scripts/demo.sh                  runs until Ctrl-C
#   DEMO_TIMEOUT=60 ./scripts/demo.sh  stops by itself after 60 s
#   RTCGW_CONFIG=my.yaml ./scripts/demo.sh   another rtcgw config (default config/rtcgw.yaml)
#   BUILD_DIR=build-demo ./scripts/demo.sh    another build directory (default build)
#
# Ports: Kamailio udp+tcp 127.0.0.1:5060, sipp 127.0.0.1:5080 (RTP 6000), and rtcgw's from its
# config (ws 8080, sip 5070, metrics 9090 in config/rtcgw.yaml).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

IMS_PORT=5060
ECHO_PORT=5080
ECHO_RTP_PORT=6000
config=${RTCGW_CONFIG:-config/rtcgw.yaml}
build=${BUILD_DIR:-build}

say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# --- build -------------------------------------------------------------------------------------
scripts/setup.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target rtcgw
rtcgw=$build/rtcgw
"$rtcgw" --check --config "$config" || die "$config does not pass rtcgw --check"

# --- what is already taken ---------------------------------------------------------------------
port_busy() {  # proto port
  [[ -n "$(ss -Hln --"$1" "sport = :$2" 2>/dev/null)" ]]
}
ws_url=$(grep -oE 'wss?://[0-9.]+:[0-9]+' "$config" | head -n 1)
[[ -n $ws_url ]] || die "no ws:// listen address found in $config"
ws_port=${ws_url##*:}
for check in "udp $IMS_PORT Kamailio" "tcp $IMS_PORT Kamailio" "udp $ECHO_PORT sipp" \
             "tcp $ws_port rtcgw"; do
  read -r proto port who <<<"$check"
  if port_busy "$proto" "$port"; then
    die "$proto port $port (for $who) is in use already: stop what holds it ($(ss -Hlnp --"$proto" "sport = :$port" | grep -o 'users:.*'))"
  fi
done

# --- run ---------------------------------------------------------------------------------------
logs=$(mktemp -d /tmp/rtcgw-demo.XXXXXX)
mkdir -p "$logs/kamailio"
pids=()
names=()
timer=

cleanup() {
  trap - EXIT INT TERM
  set +e  # whatever fails here, stop the rest
  [[ -n $timer ]] && kill "$timer" 2>/dev/null
  ((${#pids[@]})) || return 0
  say "stopping ${names[*]}"
  local pid i
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  # each runs in a session of its own (setsid): its group takes any child it left behind
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  say "logs are in $logs"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started() { pids+=("$1"); names+=("$2"); }

wait_listening() {  # proto port what
  local i
  for ((i = 0; i < 100; i++)); do
    port_busy "$1" "$2" && return 0
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || die "$3 did not start; see $logs"
    done
    sleep 0.1
  done
  die "$3 is not listening on $1 port $2 after 10 s; see $logs"
}

# (a) the IMS core stand-in
setsid kamailio -f demo/kamailio.cfg -DD -E -m 64 -M 8 -Y "$logs/kamailio" -P "$logs/kamailio/kamailio.pid" \
  -l "udp:127.0.0.1:$IMS_PORT" -l "tcp:127.0.0.1:$IMS_PORT" \
  -A "ECHO_URI=\"sip:127.0.0.1:$ECHO_PORT\"" >"$logs/kamailio.log" 2>&1 &
started $! kamailio
wait_listening udp "$IMS_PORT" Kamailio

# (b) the far end: answers every call to "echo" and echoes its RTP
setsid sipp -sf demo/echo_uas.xml -i 127.0.0.1 -p "$ECHO_PORT" -mi 127.0.0.1 -mp "$ECHO_RTP_PORT" \
  -rtp_echo -aa -nostdin -trace_err -error_file "$logs/sipp-errors.log" \
  -trace_msg -message_file "$logs/sipp-messages.log" >/dev/null 2>&1 &
started $! sipp
wait_listening udp "$ECHO_PORT" sipp

# (c) rtcgw, its log on the terminal and in $logs/rtcgw.log
setsid "$rtcgw" --config "$config" > >(tee "$logs/rtcgw.log") 2>&1 &
started $! rtcgw
wait_listening tcp "$ws_port" rtcgw

page_url="http${ws_url#ws}/"  # ws:// -> http://, wss:// -> https://
cat <<EOF

  rtcgw demo is running.  Open $page_url in a browser:
    1. Register as sip:alice@rtcgw.demo, password demo (the page's defaults).
    2. Call sip:echo@rtcgw.demo: the far end (sipp) answers in plain RTP/PCMU and echoes
       your microphone back through rtcgw's media anchor (DTLS-SRTP <-> RTP).
    3. In another tab register sip:bob@rtcgw.demo (password demo), then from alice's tab
       send a MESSAGE to sip:bob@rtcgw.demo, or call bob (tick "Answer automatically" there).
  Users: alice, bob, carol (password demo).  Logs: $logs
  Stop with Ctrl-C${DEMO_TIMEOUT:+ (or it stops by itself after ${DEMO_TIMEOUT} s)}.

EOF

# until Ctrl-C, DEMO_TIMEOUT, or one of the three dies
watch=("${pids[@]}")
if [[ -n ${DEMO_TIMEOUT:-} ]]; then
  sleep "$DEMO_TIMEOUT" &
  timer=$!
  watch+=("$timer")
fi
wait -n "${watch[@]}" || true
for i in "${!pids[@]}"; do
  if ! kill -0 "${pids[$i]}" 2>/dev/null; then
    say "${names[$i]} exited; see $logs"
    exit 1
  fi
done
say "DEMO_TIMEOUT reached"
