#!/usr/bin/env bash
# Set-up and run on a fresh Debian/Ubuntu machine that has Node.js and npm.
#
#   bash scripts/bootstrap.sh demo    # install what is missing, then `deno task demo`
#   bash scripts/bootstrap.sh test    # install what is missing, then `deno task test`
#   bash scripts/bootstrap.sh check   # install what is missing, then `deno task check`
#
# Installs, only when missing: Deno 2.9.x from the npm registry (into .tools/,
# no root needed), Mesa's software Vulkan driver (Debian packages
# mesa-vulkan-drivers and libvulkan1) when Deno finds no WebGPU adapter, and
# with D2O_REQUIRE_BROWSER=1 (as .ci/run sets) Debian's chromium for the HTML tests.
set -euo pipefail

DENO_VERSION="2.9.6"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf 'bootstrap: %s\n' "$*" >&2; }

# 1. Deno 2.9.x: a matching one on PATH, else the project's own copy in .tools/.
deno_ok() { "$1" --version 2>/dev/null | head -n 1 | grep -q '^deno 2\.9\.'; }
DENO=""
if command -v deno >/dev/null 2>&1 && deno_ok deno; then
  DENO="$(command -v deno)"
elif [ -x .tools/node_modules/.bin/deno ] && deno_ok .tools/node_modules/.bin/deno; then
  DENO="$root/.tools/node_modules/.bin/deno"
else
  command -v npm >/dev/null 2>&1 || { say "npm is needed to install Deno; install Node.js and npm first"; exit 1; }
  say "installing deno@$DENO_VERSION from the npm registry into .tools/"
  npm install --prefix .tools --no-save --no-audit --no-fund --loglevel=error "deno@$DENO_VERSION" >&2
  DENO="$root/.tools/node_modules/.bin/deno"
  deno_ok "$DENO" || { say "the installed Deno does not run: $("$DENO" --version 2>&1 | head -n 1)"; exit 1; }
fi
export PATH="$(dirname "$DENO"):$PATH"
say "using $("$DENO" --version | head -n 1) at $DENO"

# 2. A WebGPU adapter. With no real GPU, use Mesa's Vulkan software driver (lavapipe), which the
#    project is tested on: install it when it is missing (some images only offer a GL-based
#    fallback adapter, with fewer features).
adapter_kind() {
  "$DENO" eval --unstable-webgpu '
    const a = await navigator.gpu?.requestAdapter();
    console.log(!a ? "none" : a.info.isFallbackAdapter ? "fallback" : "gpu");' 2>/dev/null || echo none
}
has_lavapipe() { dpkg -s mesa-vulkan-drivers libvulkan1 >/dev/null 2>&1; }
kind="$(adapter_kind)"
if [ "$kind" != "gpu" ] && command -v apt-get >/dev/null 2>&1 && ! has_lavapipe; then
  say "no GPU adapter ($kind): installing Mesa's software Vulkan driver (mesa-vulkan-drivers, libvulkan1)"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    say "cannot install packages: not root and no sudo; run: apt-get install mesa-vulkan-drivers libvulkan1"
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers libvulkan1 >&2
  kind="$(adapter_kind)"
fi
if [ "$kind" = "none" ]; then
  say "no WebGPU adapter: install a GPU driver, or Mesa's software Vulkan driver (mesa-vulkan-drivers)"
  exit 1
fi

# 3. With D2O_REQUIRE_BROWSER=1 (CI), a headless Chromium for the HTML page tests: Debian's
#    `chromium` (and a font), installed when missing; the tests then fail rather than skip.
has_browser() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1; }
if [ "${D2O_REQUIRE_BROWSER:-}" = "1" ] && ! has_browser; then
  command -v apt-get >/dev/null 2>&1 || { say "D2O_REQUIRE_BROWSER=1: install chromium"; exit 1; }
  if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    say "cannot install chromium: not root and no sudo; run: apt-get install chromium"
    exit 1
  fi
  say "installing Debian's chromium for the HTML page tests"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
  has_browser || { say "chromium did not install"; exit 1; }
fi

# Mesa prints a warning when XDG_RUNTIME_DIR is unset; give it a private one.
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "${XDG_RUNTIME_DIR}" ]; then
  export XDG_RUNTIME_DIR="$(mktemp -d)"
fi

task="${1:-demo}"
shift || true
case "$task" in
  demo | test | check | bench | ok | test:llama) exec "$DENO" task "$task" "$@" ;;
  *) say "unknown task \"$task\": use demo, test, check, bench, ok or test:llama"; exit 2 ;;
esac
