#!/usr/bin/env bash
# Installs everything ocrlive needs into this checkout: the Python virtualenv with
# PaddleOCR on ONNX Runtime and its models, and the compiled dashboard.
#   scripts/install.sh          the server
#   scripts/install.sh --test   also the test tools (Debian chromium for browser tests)
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}

# libgl1/libglib2.0-0: OpenCV (pulled in by PaddleOCR) loads them at import.
apt_install libgl1 libglib2.0-0 fonts-dejavu-core
command -v node >/dev/null 2>&1 || apt_install nodejs npm
# fonts-liberation: the office fonts of the drawn forms and letters (tests/helpers/forms.py).
# postgresql: the tests start a throwaway cluster of their own (initdb + pg_ctl).
[ $with_tests -eq 1 ] && apt_install chromium fonts-liberation postgresql

python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ $with_tests -eq 1 ]; then
  .venv/bin/python -m pip install -q -e ".[dev]"
else
  .venv/bin/python -m pip install -q -e .
fi
# rapidocr only ships the PP-OCRv6 ONNX models here; its own dependencies are not used.
.venv/bin/python -m pip install -q --no-deps "rapidocr==3.10.0"

npm --prefix frontend ci --no-audit --no-fund --loglevel=error
npm --prefix frontend run build --silent

.venv/bin/ocrlive models
echo "ocrlive installed."
