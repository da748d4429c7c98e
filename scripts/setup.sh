#!/usr/bin/env bash
# Installs what idolcast needs when it is missing, then builds it:
#   Debian packages (redis-server, ffmpeg, espeak-ng; for the tests also chromium, nginx and
#   libnginx-mod-rtmp) with apt-get, npm packages with npm ci,
#   and the TypeScript build in dist/ (for `test`, also the scripts and fakes in dist-tools/:
#   the chaos test runs them, then the typecheck and the linter).
#   Used by `npm run up`, `npm test`, and the bench/soak/chaos runs.
# Usage: scripts/setup.sh [up|test]
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-up}"

# binary:package pairs the fleet needs at run time; the tests also drive a real browser.
needs=(redis-server:redis-server ffmpeg:ffmpeg espeak-ng:espeak-ng)
# The tests also drive a real browser and push RTMP to a real nginx with the rtmp module.
if [ "$mode" = test ]; then needs+=(chromium:chromium nginx:nginx); fi
missing=()
for pair in "${needs[@]}"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ "$mode" = test ] && [ ! -f /usr/lib/nginx/modules/ngx_rtmp_module.so ]; then missing+=(libnginx-mod-rtmp); fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "idolcast: installing Debian packages: ${missing[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else
    echo "idolcast: missing ${missing[*]} and cannot install them (not root, no sudo)." >&2
    echo "          Install them, then run again:  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
    echo "idolcast: apt-get could not install ${missing[*]}; install them by hand: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# npm packages: install when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "idolcast: installing npm packages" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

# Build (incremental: fast when nothing changed).
node_modules/.bin/tsc -p tsconfig.build.json
if [ "$mode" = test ]; then
  # The scripts and loopback fakes, kept out of dist/ so that what ships holds no test code.
  node_modules/.bin/tsc -p tsconfig.scripts.json
  # Type-check the tests too (jest transpiles them without checking).
  node_modules/.bin/tsc -p tsconfig.json
  # Lint (eslint.config.mjs): type-aware rules for what tsc lets through in async code, such as a
  # promise nobody awaits or catches. Any finding fails the run.
  node_modules/.bin/eslint --max-warnings 0 .
fi
