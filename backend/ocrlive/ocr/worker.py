"""One OCR worker process: the messages on its pipe, the child's job loop
(`worker_main`) and the parent's handle on it (`WorkerProcess`).

Every spawned worker imports this module before `worker_main` runs, so it must
stay light: nothing here may import numpy, onnxruntime or the engine at module
level, or their thread pools would start before the thread limits are set.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import importlib
import logging
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnContext
from typing import Protocol

from ocrlive.events import TaskErrorCode
from ocrlive.ocr.types import (
    EngineConfig,
    OcrFailure,
    OcrJob,
    OcrResult,
    Progress,
    ProgressSink,
    TaskCancelled,
)

log = logging.getLogger(__name__)

# Every native library the engine may load sizes its thread pool from one of
# these when it is first imported; workers x threads must not exceed the cores.
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "FLAGS_paddle_num_threads",
)
PARENT_CHECK_S = 1.0
READER_POLL_S = 0.2
MESSAGE_LIMIT = 300
# A thread sends Alive this often, busy or idle: a worker that stops sending anything
# (SIGSTOP, a deadlock, swapped out for good) is found by the pool's liveness check.
HEARTBEAT_S = 1.0
# A job that failed on one of these failed on the server's disk, not on the document.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})


# --- messages, parent -> child ---------------------------------------------


@dataclass(frozen=True)
class RunJob:
    seq: int  # a per-pool dispatch number, so a late Cancel never hits a later job
    job: OcrJob


@dataclass(frozen=True)
class Cancel:
    seq: int


@dataclass(frozen=True)
class Stop:
    pass


# --- messages, child -> parent (Progress is sent as it is) -----------------


@dataclass(frozen=True)
class Ready:
    versions: dict[str, str]
    rss_mb: float


@dataclass(frozen=True)
class StartFailed:
    message: str


@dataclass(frozen=True)
class JobEnd:
    seq: int
    rss_mb: float
    result: OcrResult | None = None
    failure: OcrFailure | None = None
    cancelled: bool = False
    storage_fault: bool = False  # the failure was the disk's (full, I/O error)


@dataclass(frozen=True)
class Alive:
    """The heartbeat."""


class _LockedConn:
    """The child's end of the pipe, shared by the job loop and the heartbeat thread:
    one send at a time, or two pickles would interleave on the pipe."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, message: object) -> None:
        with self._lock:
            self._conn.send(message)

    def poll(self, timeout: float) -> bool:
        return self._conn.poll(timeout)

    def recv(self) -> object:
        return self._conn.recv()


class EngineLike(Protocol):
    def read(self, job: OcrJob, report: ProgressSink) -> OcrResult: ...

    def versions(self) -> Mapping[str, str]: ...


def thread_env(threads: int) -> dict[str, str]:
    return {name: str(max(1, threads)) for name in THREAD_ENV_VARS}


def load_factory(path: str) -> Callable[[EngineConfig], EngineLike]:
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ValueError(f"engine factory must be 'module:callable', not {path!r}")
    factory: Callable[[EngineConfig], EngineLike] = getattr(
        importlib.import_module(module_name), attr
    )
    return factory


def rss_mb() -> float:
    import psutil  # no native thread pools; imported late only to keep startup lean

    return round(float(psutil.Process().memory_info().rss) / 2**20, 1)


def short_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MESSAGE_LIMIT]


def worker_main(conn: Connection, factory_path: str, config: EngineConfig, parent_pid: int) -> None:
    """Entry point of a spawned worker process."""
    os.environ.update(thread_env(config.threads))
    # Ctrl-C reaches the whole process group; the parent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s ocr-worker[%(process)d] %(levelname)s %(name)s: %(message)s",
    )
    _watch_parent(parent_pid)
    try:
        engine = load_factory(factory_path)(config)
        versions = {str(k): str(v) for k, v in engine.versions().items()}
    except Exception as exc:
        log.exception("the OCR engine could not be loaded")
        conn.send(StartFailed(short_error(exc)))
        return
    shared = _LockedConn(conn)
    shared.send(Ready(versions, rss_mb()))
    _beat(shared)
    _serve(shared, engine)


def _beat(conn: _LockedConn) -> None:
    def beat() -> None:
        with contextlib.suppress(OSError, ValueError):  # the pipe is gone: we are ending
            while True:
                time.sleep(HEARTBEAT_S)
                conn.send(Alive())

    threading.Thread(target=beat, name="ocrlive-heartbeat", daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    # A SIGKILLed parent runs no cleanup, and a busy worker may be deep inside
    # the engine for minutes, so a thread checks independently of the job loop.
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="ocrlive-parent-watch", daemon=True).start()


def _serve(conn: _LockedConn, engine: EngineLike) -> None:
    while True:
        try:
            if not conn.poll(PARENT_CHECK_S):
                continue
            message = conn.recv()
        except (EOFError, OSError):
            return  # the parent closed our pipe or died
        if isinstance(message, Stop):
            return
        if isinstance(message, RunJob) and not _run_job(conn, engine, message):
            return
        # A Cancel for a job that already ended is simply dropped.


def _run_job(conn: _LockedConn, engine: EngineLike, message: RunJob) -> bool:
    """Run one job and send its JobEnd. False when the parent asked us to stop."""
    sink = _Sink(conn, message)
    try:
        end = JobEnd(message.seq, 0.0, result=engine.read(message.job, sink))
    except TaskCancelled:
        end = JobEnd(message.seq, 0.0, cancelled=True)
    except OcrFailure as failure:
        copy = OcrFailure(failure.code, failure.message)
        end = JobEnd(message.seq, 0.0, failure=copy, storage_fault=_on_disk(failure))
    except Exception as exc:
        log.exception("engine error on task %s", message.job.task_id)
        wrapped = OcrFailure(TaskErrorCode.ENGINE_ERROR, short_error(exc))
        end = JobEnd(message.seq, 0.0, failure=wrapped, storage_fault=_on_disk(exc))
    _send_end(conn, end)
    return not sink.stop_requested


def _on_disk(exc: BaseException | None) -> bool:
    """Did this failure come from a full or failing disk (anywhere in its causes)?"""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _send_end(conn: _LockedConn, end: JobEnd) -> None:
    end = dataclasses.replace(end, rss_mb=rss_mb())
    try:
        conn.send(end)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:  # not the pipe: pickling
        log.exception("could not send the result")
        failure = OcrFailure(
            TaskErrorCode.ENGINE_ERROR, f"result could not be sent: {short_error(exc)}"
        )
        conn.send(JobEnd(end.seq, end.rss_mb, failure=failure))


class _Sink:
    """The report() handed to the engine: forwards progress, notices Cancel/Stop."""

    def __init__(self, conn: _LockedConn, message: RunJob) -> None:
        self._conn = conn
        self._seq = message.seq
        self.cancelled = False
        self.stop_requested = False

    def __call__(self, progress: Progress) -> None:
        self._conn.send(progress)
        while self._conn.poll(0):
            incoming = self._conn.recv()
            if isinstance(incoming, Cancel) and incoming.seq == self._seq:
                self.cancelled = True
            elif isinstance(incoming, Stop):
                self.stop_requested = True
        if self.cancelled or self.stop_requested:
            raise TaskCancelled(progress.task_id)


# --- the parent's side -----------------------------------------------------


class Exited:
    """The last message a reader thread posts: the pipe is closed and drained."""


EXITED = Exited()


class WorkerProcess:
    """The parent's handle on one spawned worker: its process, pipe and reader thread.

    The reader thread blocks on the pipe and posts each message to the event
    loop with call_soon_threadsafe. Connection.recv() blocks until a whole
    message has arrived and a result can be far larger than a pipe buffer, so
    with loop.add_reader a slow or stopped child would stall the event loop; a
    thread per worker (a handful) never does. It also waits on the process
    sentinel, so a death (SIGKILL, OOM, segfault) shows at once, and it posts
    EXITED only after every message the child managed to send.
    Everything but the reader thread runs in the event loop thread.
    """

    def __init__(
        self,
        ctx: SpawnContext,
        factory: str,
        config: EngineConfig,
        name: str,
        post: Callable[[object], None],
    ) -> None:
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        args = (child_conn, factory, config, os.getpid())
        # daemon: a parent that exits without closing the pool takes its workers along.
        self.process = ctx.Process(target=worker_main, args=args, name=name, daemon=True)
        try:
            self.process.start()
        except BaseException:
            parent_conn.close()
            raise
        finally:
            child_conn.close()  # else a dead child would never show as EOF here
        self.pid = self.process.pid or 0
        self.conn = parent_conn
        self._post = post
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, name=f"{name}-reader", daemon=True)
        self._reader.start()

    @property
    def exitcode(self) -> int | None:
        return self.process.exitcode  # reaps it (waitpid WNOHANG) once it has exited

    def exit_text(self) -> str:
        code = self.process.exitcode
        if code is not None and code < 0:
            with contextlib.suppress(ValueError):
                return f"exit code {code}, {signal.Signals(-code).name}"
        return f"exit code {code}"

    def send(self, message: object) -> bool:
        try:
            self.conn.send(message)
        except (OSError, ValueError):
            return False  # it is dying; the reader thread will post EXITED
        return True

    def kill(self) -> None:
        if self.process.exitcode is None:
            self.process.kill()

    def stop_reading(self) -> None:
        self._stop.set()

    def release(self) -> bool:
        """Close the pipe and process once the reader is done; False while it runs."""
        if self._reader.is_alive():
            return False
        self._reader.join()
        self.conn.close()
        self.process.close()
        return True

    def _read_loop(self) -> None:
        sentinel = self.process.sentinel
        while not self._stop.is_set():
            try:
                ready = wait([self.conn, sentinel], READER_POLL_S)
                if self.conn in ready:
                    self._post(self.conn.recv())
                elif ready:
                    break  # the process is gone and its pipe is drained
            except (EOFError, OSError):
                break
            except RuntimeError:
                return  # the event loop is closed: nobody is left to tell
            except Exception:  # one message that cannot be unpickled
                log.exception("unreadable message from OCR worker %s", self.pid)
        with contextlib.suppress(RuntimeError):
            self._post(EXITED)
