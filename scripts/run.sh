#!/usr/bin/env bash
# One command on a fresh machine: install everything, then run ocrlive.
# Extra arguments go to `ocrlive serve` (e.g. --host 0.0.0.0 --port 8080 --data-dir /srv/ocrlive).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/ocrlive serve "$@"
