#!/usr/bin/env bash
# Build a local image laid out as SWE-bench's instance images are, from the bundled inventory demo:
#   bash examples/swe-style-image/build.sh [TAG]        (default TAG: swe-style/inventory:latest)
# then turn it into a gold environment with
#   cligym gold --from-instances examples/swe-style-image/instances.jsonl --run-dir runs/swe
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tag="${1:-swe-style/inventory:latest}"
base="$(cligym base build | sed -n 's/^base image ready: \([^ ]*\) .*/\1/p')"
[ -n "$base" ] || { echo "cligym base build did not name a base image" >&2; exit 1; }
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "$here/Dockerfile" "$context/"
cp -r "$here/../inventory" "$context/testbed"
find "$context/testbed" -name __pycache__ -prune -exec rm -rf {} +
# The repository as a clone at its base commit, as SWE-bench keeps /testbed.
git -C "$context/testbed" init -q
git -C "$context/testbed" add -A
git -C "$context/testbed" -c user.name=example -c user.email=example@example.org commit -qm "base commit"
docker build -q --build-arg "BASE=$base" -t "$tag" "$context"
echo "built $tag"
