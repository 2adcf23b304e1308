"""The parts of the Dask executor that need no cluster: choosing the device and the
resources a worker advertises, the settings that select the executor, the
scheduler's Dask settings, and how a page's progress report counts."""

from __future__ import annotations

import onnxruntime
import pytest
from distributed.protocol.serialize import _is_dumpable

from ocrlive.app import build_executor
from ocrlive.events import Stage
from ocrlive.ocr import dask_cluster
from ocrlive.ocr.dask_cluster import CUDA_PROVIDER, gpu_device, worker_resources
from ocrlive.ocr.dask_executor import DaskExecutor, _Document
from ocrlive.ocr.dask_worker import progress_message
from ocrlive.ocr.page_progress import DocumentProgress
from ocrlive.ocr.pool import OcrPool
from ocrlive.ocr.types import OcrJob, Progress
from ocrlive.settings import load_settings


def test_gpu_workers_advertise_a_gpu_and_every_worker_the_engine() -> None:
    assert worker_resources("cpu") == {"ocr": 1.0}
    assert worker_resources("gpu:0") == {"ocr": 1.0, "GPU": 1.0}


def test_gpu_is_used_only_where_onnx_runtime_has_cuda(caplog: pytest.LogCaptureFixture) -> None:
    assert gpu_device(False) == "cpu"
    has_cuda = CUDA_PROVIDER in onnxruntime.get_available_providers()
    assert gpu_device(True) == ("gpu:0" if has_cuda else "cpu")
    assert has_cuda or "reading on the CPU" in caplog.text


def test_progress_travels_as_a_plain_dask_event() -> None:
    progress = Progress("t", Stage.RECOGNIZING, 42.5, "Page 2 of 3", 2, 3, 4, 9)
    message = progress_message(progress)
    assert _is_dumpable(message)  # what Worker.log_event insists on
    assert Progress(**message) == progress  # the node rebuilds it (Stage is a StrEnum)


def test_the_executor_comes_from_the_settings() -> None:
    local = build_executor(load_settings(environ={}), "ocrlive.ocr.fake:FakeEngine")
    assert isinstance(local, OcrPool)
    env = {"OCRLIVE_EXECUTOR": "dask", "OCRLIVE_DASK_SCHEDULER": "tcp://10.0.0.5:8786"}
    assert isinstance(build_executor(load_settings(environ=env), ""), DaskExecutor)
    with pytest.raises(ValueError, match="OCRLIVE_DASK_SCHEDULER"):
        load_settings(environ={"OCRLIVE_EXECUTOR": "dask"})
    with pytest.raises(ValueError, match="local or dask"):
        load_settings(environ={"OCRLIVE_EXECUTOR": "celery"})


def test_the_scheduler_steals_often_unless_the_administrator_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = "distributed.scheduler.work-stealing-interval"
    monkeypatch.delenv(dask_cluster.dask_variable(key), raising=False)
    assert dask_cluster.scheduler_settings()[key] == "100ms"
    assert dask_cluster.scheduler_settings()["distributed.scheduler.allowed-failures"] == 1
    monkeypatch.setenv(dask_cluster.dask_variable(key), "1s")
    assert key not in dask_cluster.scheduler_settings()


def test_a_page_report_counts_once_and_only_for_this_run() -> None:
    """After a scheduler restart the node reads back reports it may have heard live
    (DaskExecutor._follow): by the scheduler's time of each, a page's report counts
    once, an older one not at all, and one of an earlier run's page task never."""
    doc = _Document(OcrJob("t", "doc.pdf", "pages"), DocumentProgress("t", 1, lambda p: None))
    doc.keys.add("ocrlive-page-t-1-now")
    assert doc.fresh("ocrlive-page-t-1-now", 10.0)
    assert not doc.fresh("ocrlive-page-t-1-now", 10.0)  # the same event, read back
    assert not doc.fresh("ocrlive-page-t-1-now", 9.5)  # older than one heard
    assert doc.fresh("ocrlive-page-t-1-now", 11.0)
    assert not doc.fresh("ocrlive-page-t-1-before", 12.0)  # a cancelled run's page
