"""Memory, steady and burst: each measured from the orchestrator on one Combo."""

from __future__ import annotations

import time
from array import array
from typing import Any

from bench_common import percentile
from benchws.handles import Combo
from benchws.plan import KIB


def connect(c: Combo, count: int, deflate: bool = False) -> dict[str, Any]:
    topics = [c.topics(n) for n in range(count)]
    timeout = 60 + count * 0.05
    result = c.fleet.call(
        "connect", target=c.server.target, topics=topics, concurrency=64, deflate=deflate,
        timeout=timeout,
    )  # fmt: skip
    if result["failed"]:
        print(f"{c.kind}: {result['failed']} connections failed: {result['errors']}")
    return result


def measure_memory(c: Combo, deflate: bool = False) -> dict[str, Any]:
    """RSS per idle, authenticated and subscribed connection."""
    time.sleep(0.5)
    base = c.server.rss()
    result = connect(c, c.clients, deflate)
    time.sleep(1.5)  # let the handshakes' garbage settle
    idle = c.server.rss()
    per_conn = (idle - base) / max(1, result["connected"])
    return {
        "connected": result["connected"],
        "failed": result["failed"],
        "connect_s": round(result["seconds"], 2),
        "rss_base": base,
        "rss_idle": idle,
        "rss_per_conn_kib": round(per_conn / KIB, 2),
    }


def wait_run(c: Combo, name: str, max_s: float) -> dict[str, Any]:
    """Poll the server until the named run finished (bounded by max_s)."""
    deadline, state = time.monotonic() + max_s, {}
    while time.monotonic() < deadline:
        status = c.server.status(timeout=max(1.0, deadline - time.monotonic()))
        if status is not None:
            state = status["runs"].get(name, {})
            if state.get("finished"):
                break
        time.sleep(0.25)
    return state


def wait_deliveries(
    c: Combo, letter: str, need: int, quiet_s: float, max_s: float
) -> dict[str, Any]:
    """Wait until `need` clients saw the final event, or deliveries stop for quiet_s."""
    t0 = last_change = time.monotonic()
    last_count = -1
    while time.monotonic() - t0 < max_s:
        stats = c.fleet.call("collect", letter=letter)
        if need and stats["final_seen"] >= need:
            break
        if stats["count"] != last_count:
            last_count, last_change = stats["count"], time.monotonic()
        elif time.monotonic() - last_change >= quiet_s:
            break
        time.sleep(0.2)
    return c.fleet.call("collect", letter=letter, latencies=True)


def latency_ms(stats: dict[str, Any]) -> dict[str, float | None]:
    latencies = array("d")
    latencies.frombytes(stats["latencies"])
    ordered = sorted(latencies)
    p50, p99 = percentile(ordered, 0.50), percentile(ordered, 0.99)
    return {
        "p50_ms": None if p50 is None else round(p50 * 1000, 2),
        "p99_ms": None if p99 is None else round(p99 * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2) if ordered else None,
    }


def summarize(stats: dict[str, Any], started: float, expected: int) -> dict[str, Any]:
    span = stats["last"] - started if stats["count"] and started else 0.0
    return {
        "delivered": stats["count"],
        "expected": expected,
        "received_pct": round(100 * stats["count"] / expected, 1) if expected else None,
        "span_s": round(span, 3),
        "delivered_per_s": round(stats["count"] / span) if span > 0 else None,
        **latency_ms(stats),
        "wire_bytes": stats["wire_bytes"],
        "client_closes": stats["closes"],
        "clients_open": stats["open"],
    }


def cpu_per_delivery(state: dict[str, Any], stats: dict[str, Any]) -> dict[str, Any]:
    """CPU microseconds per delivered event, server and clients: tells which side was
    saturated (a side well under 1 s of CPU per wall second was waiting)."""
    delivered = max(1, stats["count"])
    return {
        "server_cpu_s": round(state.get("cpu_s", 0.0), 2),
        "client_cpu_s": round(stats["cpu_s"], 2),
        "server_us_per_delivery": round(state.get("cpu_s", 0.0) * 1e6 / delivered, 2),
        "client_us_per_delivery": round(stats["cpu_s"] * 1e6 / delivered, 2),
        # Time each side's loop was ready to run while another task had its core.
        "server_wait_ms": state.get("cpu_wait_ms"),
        "client_wait_ms": round(stats.get("cpu_wait_s", 0.0) * 1000, 1),
    }


def steady_expected(sent: int, tasks: int, clients: int) -> int:
    """Events of task j reach the clients n with n % tasks == j."""
    per_task = [sent // tasks + (1 if j < sent % tasks else 0) for j in range(tasks)]
    subs = [clients // tasks + (1 if j < clients % tasks else 0) for j in range(tasks)]
    return sum(e * s for e, s in zip(per_task, subs, strict=True))


def run_steady(c: Combo, letter: str, duration: float, how: str = "progress") -> dict[str, Any]:
    """Every steady task `rate` times a second for `duration`; latency per delivery."""
    c.fleet.call("arm", letter=letter, final_index=-1)
    spec = {"name": "steady", "mode": "paced", "letter": letter, "tasks": c.steady_ids,
            "rate": c.plan.rate, "duration": duration, "how": how}  # fmt: skip
    c.server.request("/bench/start", spec)
    state = wait_run(c, "steady", duration + 20)
    stats = wait_deliveries(c, letter, 0, quiet_s=1.0, max_s=15)
    sent = state.get("sent", 0)
    result = summarize(
        stats, state.get("started", 0.0), steady_expected(sent, c.plan.tasks, c.clients)
    )
    result |= {
        "events_sent": sent,
        "max_lag_ms": state.get("max_lag_ms"),
        "gc_full": state.get("gc_full"),
        "gc_full_max_ms": state.get("gc_full_max_ms"),
    }
    result |= cpu_per_delivery(state, stats)
    result["events_per_s"] = round(sent / duration)
    return result


def run_burst(
    c: Combo, letter: str, *, frozen: bool = False, how: str = "progress"
) -> dict[str, Any]:
    """Events of the one task every client follows, as fast as the server goes."""
    # With a frozen client only "slowed or not" matters: a quarter of the events will do.
    count = c.plan.burst_events(c.clients) // (4 if frozen else 1)
    c.fleet.call("arm", letter=letter, final_index=count - 1)
    spec = {"name": "burst", "mode": "burst", "letter": letter, "tasks": [c.burst_id],
            "count": count, "max_s": c.plan.burst_max_s, "how": how}  # fmt: skip
    c.server.request("/bench/start", spec)
    # A stalled broadcast (plain with a frozen client) shows as 3 s without deliveries.
    quiet = 3.0 if frozen else 5.0
    stats = wait_deliveries(c, letter, c.clients, quiet_s=quiet, max_s=c.plan.burst_max_s + 10)
    state = wait_run(c, "burst", 5 if frozen else 30)
    c.server.request("/bench/stop", {"names": ["burst"]})
    result = summarize(stats, state.get("started", 0.0), count * c.clients)
    complete = stats["final_seen"] >= c.clients
    result |= {"events": count, "events_sent": state.get("sent"), "complete": complete}
    return result | cpu_per_delivery(state, stats)


def run_storm(c: Combo, letter: str = "R") -> dict[str, Any]:
    """Reconnect storm: while the steady tasks report progress, every client drops its
    socket and comes back within `storm_window_s`, resuming (ocrlive) from the last
    event it saw. Every client should be back, recovered, none refused."""
    plan = c.plan
    c.fleet.call("arm", letter=letter, final_index=-1)
    c.fleet.call("track")
    duration = plan.storm_lead_s + plan.storm_window_s + 4.0
    spec = {"name": "storm", "mode": "paced", "letter": letter, "tasks": c.steady_ids,
            "rate": plan.rate, "duration": duration, "how": "progress"}  # fmt: skip
    c.server.request("/bench/start", spec)
    time.sleep(plan.storm_lead_s)  # progress flowing, positions moving on
    topics = [c.topics(n) for n in range(c.clients)]
    result = c.fleet.call(
        "storm", target=c.server.target, topics=topics, window_s=plan.storm_window_s,
        timeout=120 + c.clients * 0.05,
    )  # fmt: skip
    state = wait_run(c, "storm", duration + 20)
    return result | {"events_sent": state.get("sent", 0)}
