#!/usr/bin/env bash
# Installs what rtcgw's build, demo and tests need on Debian 12 (bookworm), then the npm packages
# and the browser bundle of JsSIP (web/jssip.min.js). Idempotent: installs only what is missing.
# Runs as root, or through sudo when it is there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

# Debian packages, by what needs them.
packages=(
  # build
  build-essential cmake pkg-config
  libwebsockets-dev libwebsockets-evlib-glib libsofia-sip-ua-dev libsofia-sip-ua-glib-dev
  openssl libsrtp2-dev libnice-dev libssl-dev libopus-dev libspdlog-dev libyaml-cpp-dev libsystemd-dev
  libglib2.0-dev prometheus-cpp-dev libcli11-dev nlohmann-json3-dev libspandsp-dev
  libspeexdsp-dev
  # tests, fuzzing (libFuzzer comes with clang's runtime), formatting
  libgtest-dev clang libclang-rt-14-dev clang-format
  # peers for the demo and the tests: an IMS stand-in, a far end, a browser
  kamailio kamailio-websocket-modules kamailio-utils-modules kamailio-extra-modules
  sip-tester chromium
  # network namespaces for the tests (ip, unshare)
  iproute2 util-linux
)

missing=()
for p in "${packages[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] ||
    missing+=("$p")
done
# Node.js and npm may come from elsewhere than Debian (NodeSource, nvm); installing Debian's npm
# over another npm breaks it. Ask apt only for a command that is missing.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if ((${#missing[@]})); then
  sudo=()
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || { log "not root and no sudo: install ${missing[*]}"; exit 1; }
    sudo=(sudo)
  fi
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update
  "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
else
  log "Debian packages: all present"
fi

# npm packages, exactly as package-lock.json pins them.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]
then
  log "npm ci"
  npm ci --no-audit --no-fund
else
  log "node_modules: up to date"
fi

# JsSIP ships no browser build: bundle it for the demo page (and the browser test that uses it).
bundle=web/jssip.min.js
if [[ ! -s $bundle || node_modules/jssip/package.json -nt $bundle ]]; then
  log "bundling JsSIP into $bundle"
  node_modules/.bin/esbuild node_modules/jssip/lib/JsSIP.js --bundle --format=iife \
    --global-name=JsSIP --platform=browser --minify --log-level=warning --outfile="$bundle"
else
  log "$bundle: up to date"
fi
