#!/usr/bin/env bash
# The wheel checked from the outside (see scripts/check_install.py), after
# scripts/install.sh; PYTHON names another interpreter with build and openapi-core.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" scripts/check_install.py "$@"
