#!/usr/bin/env bash
# `deno task test:llama`: the llama.cpp differential suite (installs what it needs first).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$root/tests/llama/install.sh"
cd "$root"
exec deno test --config tests/llama/deno.json --no-check --allow-read --allow-write --allow-env --allow-run --allow-ffi --allow-sys \
  tests/llama/*_diff.ts "$@"
