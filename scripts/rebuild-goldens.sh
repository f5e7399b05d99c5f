#!/usr/bin/env bash
# Rebuilds every llama.cpp golden file in the repo with llama.cpp's own tools (test-support/build-llama-tools.sh builds
# them first when its cache lacks them); see scripts/rebuild-goldens.ts for the files and the exact commands.
# Usage: bash scripts/rebuild-goldens.sh [--check]   (--check: rebuild into a temporary folder and fail unless the
# result equals the committed files byte for byte)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "rebuild-goldens: unknown argument '$1' (usage: bash scripts/rebuild-goldens.sh [--check])" >&2; exit 2 ;;
esac
MOEQ_GOLDEN_CHECK=$check npx vitest run --config scripts/rebuild-goldens.vitest.config.ts
