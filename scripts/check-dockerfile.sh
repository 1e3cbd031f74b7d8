#!/usr/bin/env bash
# No Docker engine runs on our CI machines, so this replays the Dockerfile's build stage on the
# host (same commands, a throwaway venv) and runs the result as the image would: proof that the
# lock exports, the hashes verify, the wheel carries the bundled definitions, and the entry
# point works. Needs network access to PyPI, like `docker build`.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
uv=$(command -v uv || echo .tools/bin/uv)
cp -r pyproject.toml uv.lock README.md agent slo-definitions "$work/"
cd "$work"
"$uv" export --frozen --no-dev --no-emit-project --format requirements-txt -o requirements.txt
python3 -m venv venv
venv/bin/pip install -q --require-hashes -r requirements.txt
venv/bin/pip install -q --no-deps .
venv/bin/pip uninstall -q -y pip
mkdir elsewhere && cd elsewhere  # no ./slo-definitions: the bundled examples must be found
../venv/bin/sloguard --version
../venv/bin/sloguard validate
echo "check-dockerfile: build stage replayed, entry point runs on the bundled definitions"
