"""A re-run's engine settings: checked with a coded error, applied over the server's."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ocrlive.errors import InvalidSettings
from ocrlive.ocr.types import EngineConfig, ReadSettings
from ocrlive.tasks import rerun_settings

CONFIG = EngineConfig(engine="onnxruntime", det_model_dir="d", rec_model_dir="r",
                      det_model_name="det", rec_model_name="rec", threads=1)  # fmt: skip


@pytest.mark.parametrize(
    "data",
    [
        [], {"box_threshold": 1.5}, {"box_threshold": True}, {"box_threshold": "0.5"},
        {"space_threshold": -0.1}, {"space_threshold": math.nan}, {"orientation": 1},
        {"detection_side": 16}, {"detection_side": 64.0}, {"detection_limit": "both"},
        {"det_box_thresh": 0.5},
    ],
)  # fmt: skip
def test_wrong_settings_are_refused_with_their_code(data: Any) -> None:
    with pytest.raises(InvalidSettings) as raised:
        ReadSettings.parse(data)
    assert raised.value.code == "invalid_settings" and raised.value.status == 400


def test_given_settings_replace_the_servers_and_the_rest_stay() -> None:
    chosen = ReadSettings.parse({"box_threshold": 0.7, "orientation": False,
                                 "detection_side": 960, "detection_limit": "max"})  # fmt: skip
    assert chosen.applied(CONFIG) == replace(
        CONFIG, det_box_thresh=0.7, page_orientation=False, det_limit_side_len=960,
        det_limit_type="max",
    )  # fmt: skip
    assert ReadSettings.parse({}).applied(CONFIG) == CONFIG
    assert ReadSettings.parse({"space_threshold": 0}).to_json() == {"space_threshold": 0}


def test_saved_settings_are_read_back_until_forgotten(tmp_path: Path) -> None:
    folder = tmp_path / "task"
    assert rerun_settings.load(folder) == ReadSettings()
    chosen = ReadSettings.parse({"space_threshold": 0.2, "orientation": False})
    rerun_settings.save(folder, chosen)
    assert rerun_settings.load(folder) == chosen
    rerun_settings.forget(folder)
    assert rerun_settings.load(folder) == ReadSettings()
    assert [p.name for p in folder.iterdir()] == []
