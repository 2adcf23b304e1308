#!/usr/bin/env bash
# One command on a fresh machine: install everything (chromium too), then run every
# test: lint, types, the frontend's tests, and pytest (unit, integration with the real
# PaddleOCR engine and process pool, and the browser tests in Debian's chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --test

.venv/bin/ruff check backend tests scripts
.venv/bin/ruff format --check backend tests scripts
.venv/bin/mypy
npm --prefix frontend run typecheck --silent
npm --prefix frontend test --silent
.venv/bin/python -m pytest -p no:cacheprovider "$@"
