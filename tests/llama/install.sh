#!/usr/bin/env bash
# Installs the differential suite's test-only dependency (node-llama-cpp, pinned
# in package.json and package-lock.json) into tests/llama/node_modules, when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [ -f node_modules/node-llama-cpp/package.json ] &&
  grep -q '"version": "3.21.1"' node_modules/node-llama-cpp/package.json; then
  exit 0
fi
echo "test:llama: installing node-llama-cpp@3.21.1 from the npm registry (about 730 MB)" >&2
npm ci --no-audit --no-fund --loglevel=error >&2
