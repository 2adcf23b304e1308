"""The frozen client: one socket that subscribes and stops reading, while the others
go on. A server should neither stall for the others nor grow without bound."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import psutil

from benchws.handles import Combo, ServerHandle
from benchws.plan import MIB
from benchws.scenarios import run_burst, run_steady


def run_fill(c: Combo, name: str, letter: str, count: int, how: str) -> dict[str, Any]:
    """Events only the frozen client subscribed to, as fast as the server goes; a
    server stuck on the frozen socket shows as `sent` standing still."""
    spec = {"name": name, "mode": "burst", "letter": letter, "tasks": [c.flood_id],
            "count": count, "max_s": 30.0, "how": how}  # fmt: skip
    c.server.request("/bench/start", spec)
    t0, last_sent, last_change, state = time.monotonic(), -1, time.monotonic(), {}
    while time.monotonic() - t0 < 35:
        state = c.server.run_state(name)
        if state.get("finished"):
            break
        if state.get("sent", 0) != last_sent:
            last_sent, last_change = state.get("sent", 0), time.monotonic()
        elif time.monotonic() - last_change > 2.0:
            break
        time.sleep(0.25)
    c.server.request("/bench/stop", {"names": [name]})
    seconds, sent = time.monotonic() - t0, state.get("sent", 0)
    return {"sent": sent, "of": count, "stalled": not state.get("finished"),
            "per_s": round(sent / max(seconds, 1e-3)), "seconds": round(seconds, 2),
            "error": state.get("error")}  # fmt: skip


class RssSampler:
    """The server's peak RSS while the frozen client is present (4 samples/s)."""

    def __init__(self, server: ServerHandle) -> None:
        self.server, self.peak = server, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)

    def _loop(self) -> None:
        for _ in range(100_000):
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.server.rss())
            if self._stop.wait(0.25):
                return


def driver_stats(c: Combo) -> dict[str, Any] | None:
    return (c.server.status() or {}).get("driver")


def run_frozen(c: Combo) -> dict[str, Any]:
    """One client subscribes (to a steady task, the burst task and its own flood task)
    and stops reading; the server fills its buffers (progress: collapsible), steady and
    burst run again, then lifecycle events (never collapsed) overflow its outbox."""
    result: dict[str, Any] = {}
    with RssSampler(c.server) as sampler:
        result["rss_before"] = c.server.rss()
        c.fleet.call("freeze", target=c.server.target, topics=[*c.topics(0), f"task:{c.flood_id}"])
        result["fill"] = run_fill(c, "fill", "F", c.plan.fill, "progress")
        result["rss_filled"] = c.server.rss()
        result["driver_after_fill"] = driver_stats(c)
        if c.plan.runs("steady"):
            result["steady"] = run_steady(c, "S", c.plan.frozen_steady_s)
        result["burst"] = run_burst(c, "B", frozen=True)
        result["rss_after"] = c.server.rss()
        result["lifecycle"] = run_fill(c, "lifecycle", "L", c.plan.lifecycle, "lifecycle")
        time.sleep(2.5)  # ocrlive gives a stuck close handshake 2 s before it aborts
        result["rss_end"] = c.server.rss()
        result["driver_end"] = driver_stats(c)
    result["rss_peak"] = max(sampler.peak, result["rss_end"])
    result["growth_mib"] = round((result["rss_peak"] - result["rss_before"]) / MIB, 2)
    result["thaw"] = c.fleet.call("thaw", wait_s=5.0, timeout=30)
    return result
