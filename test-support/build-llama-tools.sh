#!/usr/bin/env bash
# Builds llama.cpp's reference tools (llama-imatrix, llama-quantize, llama-perplexity) from the exact source
# node-llama-cpp bundles (node_modules/node-llama-cpp/llama/gitRelease.bundle): CPU only, Release, static,
# no curl, only those three targets. The build lands in a cache directory keyed by the bundle's commit
# ($MOEQ_LLAMA_TOOLS_DIR, default ~/.cache/moeq/llama-tools/<commit>) and is skipped when already there.
# Prints the bin directory on stdout (progress goes to stderr). Usage: bash test-support/build-llama-tools.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bundle="$root/node_modules/node-llama-cpp/llama/gitRelease.bundle"
[ -f "$bundle" ] || { echo "build-llama-tools: $bundle not found (run npm ci first)" >&2; exit 2; }
commit="$(git bundle list-heads "$bundle" | awk '$2 == "HEAD" { print $1 }')"
[ -n "$commit" ] || { echo "build-llama-tools: $bundle: no HEAD" >&2; exit 2; }
cache="${MOEQ_LLAMA_TOOLS_DIR:-$HOME/.cache/moeq/llama-tools}/$commit"
bin="$cache/build/bin"
tools=(llama-imatrix llama-quantize llama-perplexity)
built() { for t in "${tools[@]}"; do [ -x "$bin/$t" ] || return 1; done; [ -f "$cache/.done" ]; }
if built; then echo "$bin"; exit 0; fi

mkdir -p "$cache"
# one builder at a time (parallel test files may all ask for the tools)
exec 9>"$cache/.lock"
flock 9
if built; then echo "$bin"; exit 0; fi
start=$(date +%s)
if [ ! -d "$cache/src/.git" ]; then
  rm -rf "$cache/src"
  git clone -q "$bundle" "$cache/src" >&2
fi
git -C "$cache/src" checkout -q "$commit" >&2
jobs="${MOEQ_BUILD_JOBS:-$(nproc)}"
cmake -S "$cache/src" -B "$cache/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
  -DLLAMA_BUILD_TOOLS=ON -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DGGML_BLAS=OFF >&2
cmake --build "$cache/build" --config Release -j "$jobs" --target "${tools[@]}" >&2
touch "$cache/.done"
echo "build-llama-tools: built ${tools[*]} in $(( $(date +%s) - start )) s ($jobs jobs) into $bin" >&2
echo "$bin"
