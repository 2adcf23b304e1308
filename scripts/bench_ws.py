"""WebSocket fan-out benchmark: ocrlive against a plain aiohttp broadcast and
python-socketio, on 127.0.0.1 only. The benchmark itself lives in scripts/benchws/;
see its package docstring (or --help) for the scenarios.

    .venv/bin/python scripts/bench_ws.py --clients 100,1000 --json /tmp/bench_ws.json
    .venv/bin/python scripts/bench_ws.py --quick          # about 3 minutes
"""

from __future__ import annotations

import sys
from pathlib import Path

SCRIPTS = str(Path(__file__).resolve().parent)


def main() -> int:
    # `python scripts/bench_ws.py` puts scripts/ first on sys.path already; this makes
    # `python -m scripts.bench_ws` work too (spawned processes inherit sys.path).
    if SCRIPTS not in sys.path:
        sys.path.insert(0, SCRIPTS)
    from benchws.cli import main as run

    return run()


if __name__ == "__main__":
    raise SystemExit(main())
