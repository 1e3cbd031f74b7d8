#!/usr/bin/env bash
# Installs what sloguard's demo and tests need on Debian/Ubuntu: promtool (Debian's prometheus
# package), Alertmanager (prometheus-alertmanager, for the tests of the actions' alerts and the
# on-call routing), Chromium (headless, for the pictures people look at and the reports' PDF),
# poppler-utils (pdftoppm and pdftotext, to check that PDF), VictoriaMetrics with vmalert
# (victoria-metrics, for the tests of the rules and the agent on that engine), a Python virtual
# environment with uv, and the package with its locked dependencies.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
command -v vmalert >/dev/null 2>&1 || missing+=(victoria-metrics)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

uv=$(command -v uv || true)
if [ -z "$uv" ]; then
  if [ ! -x .tools/bin/uv ]; then
    echo "setup: installing uv into .tools/"
    python3 -m venv .tools
    .tools/bin/pip install -q 'uv>=0.4,<1'
  fi
  uv=.tools/bin/uv
fi
"$uv" sync --frozen --quiet --compile-bytecode
