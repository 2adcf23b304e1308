"""The frontend's vocabulary is the backend's: frontend/src/api/vocabulary.ts is what
scripts/gen_vocabulary.py makes of the enums today."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gen_vocabulary.py"


def test_the_generated_typescript_matches_the_enums() -> None:
    spec = importlib.util.spec_from_file_location("gen_vocabulary", SCRIPT)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    expected = generator.render()
    assert '"task.progress"' in expected and "TOO_SLOW: 4009" in expected
    assert generator.TARGET.read_text() == expected, "run python scripts/gen_vocabulary.py"
