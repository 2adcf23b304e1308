"""Tables of the results and the goals ocrlive is held to."""

from __future__ import annotations

import os
from typing import Any

from bench_common import print_table
from benchws.plan import MIB

Result = dict[str, Any]
HUB_LABEL = "ocrlive/hub"  # events straight into the hub: the WebSocket layer alone


def mib(value: float | None) -> float | None:
    return None if value is None else round(value / MIB, 1)


def by_key(results: list[Result]) -> dict[tuple[str, int], Result]:
    return {(r["server"], r["clients"]): r for r in results if "error" not in r}


def burst_ratio(results: list[Result], clients: int, key: str = "burst") -> float | None:
    """ocrlive's burst delivered/s (or its hub variant's) over the plain server's."""
    runs = by_key(results)
    ours, plain = runs.get(("ocrlive", clients)), runs.get(("plain", clients))
    if not ours or not plain or key not in ours or "burst" not in plain:
        return None
    a, b = ours[key]["delivered_per_s"], plain["burst"]["delivered_per_s"]
    return round(a / b, 2) if a and b else None


def scenario_rows(results: list[Result], name: str) -> list[tuple[str, Result]]:
    """(label, run) per server that ran `name`, plus ocrlive's hub-only variant."""
    rows = []
    for r in results:
        if "error" in r or name not in r:
            continue
        rows.append((r["server"], r))
        if f"{name}_hub" in r:
            rows.append((HUB_LABEL, {**r, name: r[f"{name}_hub"]}))
    return rows


def ratio(results: list[Result], label: str, clients: int) -> float | None:
    keys = {"ocrlive": "burst", HUB_LABEL: "burst_hub"}
    return burst_ratio(results, clients, keys[label]) if label in keys else None


def events_cell(burst: Result) -> object:
    """ "sent/planned" when the burst hit its time cap (burst_max_s)."""
    sent, planned = burst.get("events_sent"), burst["events"]
    return planned if sent in (None, planned) else f"{sent}/{planned}"


def print_memory(ok: list[Result]) -> None:
    print_table(
        "memory: idle authenticated + subscribed connections",
        ["server", "clients", "connect s", "RSS base MiB", "RSS idle MiB", "RSS/conn KiB",
         "deflate agreed"],
        [[r["server"], r["clients"], r["memory"]["connect_s"], mib(r["memory"]["rss_base"]),
          mib(r["memory"]["rss_idle"]), r["memory"]["rss_per_conn_kib"],
          (r.get("deflate_probe") or {}).get("agreed")] for r in ok],
    )  # fmt: skip


def print_steady(results: list[Result]) -> None:
    print_table(
        "steady: 50 tasks x 10 updates/s, each client on one task (ocrlive/hub: no SQLite)",
        ["server", "clients", "events/s", "delivered/s", "recv %", "p50 ms", "p99 ms",
         "max ms", "server us/dlv", "full GCs (max ms)", "waited for CPU ms srv/cli"],
        [[label, r["clients"], s["events_per_s"], s["delivered_per_s"], s["received_pct"],
          s["p50_ms"], s["p99_ms"], s["max_ms"], s["server_us_per_delivery"],
          f"{s.get('gc_full')} ({s.get('gc_full_max_ms')})",
          f"{s.get('server_wait_ms')}/{s.get('client_wait_ms')}"]
         for label, r in scenario_rows(results, "steady") for s in [r["steady"]]],
    )  # fmt: skip


def print_burst(results: list[Result]) -> None:
    print_table(
        "burst: one task, every client, events as fast as possible",
        ["server", "clients", "events", "delivered/s", "recv %", "all got last", "span s",
         "p50 ms", "p99 ms", "server us/dlv", "client us/dlv", "x plain"],
        [[label, r["clients"], events_cell(b), b["delivered_per_s"], b["received_pct"],
          b["complete"], b["span_s"], b["p50_ms"], b["p99_ms"], b["server_us_per_delivery"],
          b["client_us_per_delivery"], ratio(results, label, r["clients"])]
         for label, r in scenario_rows(results, "burst") for b in [r["burst"]]],
    )  # fmt: skip


def close_cell(code: int | None) -> str | None:
    """A close code as is (1006 rather than "1,006"); None while the socket is open."""
    return None if code is None else str(code)


def frozen_row(r: Result) -> list[object]:
    f, base = r["frozen"], r.get("steady", {}).get("p99_ms")
    closes = (f.get("driver_end") or {}).get("closes", {})
    server_closes = ",".join(f"{k}x{v}" for k, v in closes.items()) or None
    return [
        r["server"], r["clients"], f"{f['fill']['sent']}/{f['fill']['of']}", f["fill"]["per_s"],
        mib(f["rss_before"]), mib(f["rss_peak"]), f["growth_mib"],
        f"{base} -> {f['steady']['p99_ms']}" if "steady" in f else None,
        f"{r['burst']['delivered_per_s']} -> {f['burst']['delivered_per_s']}",
        f["burst"]["complete"], (f.get("driver_after_fill") or {}).get("worst_outbox_entries"),
        server_closes, close_cell(f["thaw"]["close_code"]),
    ]  # fmt: skip


def print_frozen(ok: list[Result]) -> None:
    print_table(
        "frozen client: fill its buffers, then steady + burst again, then 600 lifecycle events",
        ["server", "clients", "fill sent", "fill/s", "RSS MiB", "peak MiB", "growth MiB",
         "steady p99 ms", "burst delivered/s", "burst done", "outbox entries",
         "server closes", "frozen saw"],
        [frozen_row(r) for r in ok if "frozen" in r],
    )  # fmt: skip


def print_storm(ok: list[Result]) -> None:
    print_table(
        "reconnect storm: every client drops and resubscribes (since) within 1 s, "
        "50 tasks reporting progress",
        ["server", "clients", "back", "recovered", "refused/failed", "last live s",
         "reconnect p50 ms", "reconnect max ms", "x plain (last live)"],
        [[r["server"], r["clients"], s["live"], s["recovered"], s["failed"], s["last_live_s"],
          s["reconnect_p50_ms"], s["reconnect_max_ms"],
          plain_ratio(ok, r, ("storm", "last_live_s"))]
         for r in ok if "storm" in r for s in [r["storm"]]],
    )  # fmt: skip


def plain_ratio(ok: list[Result], r: Result, path: tuple[str, str]) -> float | None:
    """r's figure at `path` over the plain server's at the same client count."""
    plain = by_key(ok).get(("plain", r["clients"]))
    if plain is None or path[0] not in plain or path[0] not in r:
        return None
    ours, theirs = r[path[0]].get(path[1]), plain[path[0]].get(path[1])
    return round(ours / theirs, 2) if ours and theirs else None


def print_results(results: list[Result]) -> None:
    ok = [r for r in results if "error" not in r]
    for r in results:
        if "error" in r:
            print(f"\n{r['server']} with {r['clients']} clients FAILED: {r['error']}")
    print_memory(ok)
    print_steady(results)
    print_burst(results)
    print_frozen(ok)
    print_storm(ok)
    loads = [max(r["load_before"][0], r["load_after"][0]) for r in results if "load_after" in r]
    if loads and max(loads) > (os.cpu_count() or 1):
        print(f"\nWARNING: load average reached {max(loads):.1f} on {os.cpu_count()} CPUs: another")
        print("workload competed for the CPUs; trust 'us/dlv' (CPU time) over wall-clock rates.")


def check(value: Any, goal: str, met: bool) -> Result:
    return {"value": value, "goal": goal, "met": met}


def goals_of(results: list[Result], r: Result) -> Result:
    """The goals of one ocrlive run (whatever of them its scenarios measured), each
    against the plain aiohttp server of the same run (issue #13)."""
    n, out, ok = r["clients"], {}, [x for x in results if "error" not in x]
    for key in ("burst", "burst_hub"):
        if key not in r:
            continue
        value = burst_ratio(results, n, key)
        out[f"{key}_ratio_{n}"] = check(value, ">= 0.9", value is not None and value >= 0.9)
    if "steady" in r:
        p99 = r["steady"]["p99_ms"]
        met = p99 is not None and (p99 < 5 or n < 1000)
        out[f"steady_p99_ms_{n}"] = check(p99, "< 5 (at 1000)", met)
    memory = plain_ratio(ok, r, ("memory", "rss_per_conn_kib"))
    out[f"rss_per_conn_ratio_{n}"] = check(memory, "<= 1.2", memory is not None and memory <= 1.2)
    connect = plain_ratio(ok, r, ("memory", "connect_s"))
    out[f"connect_ratio_{n}"] = check(connect, "<= 2", connect is not None and connect <= 2)
    if "storm" in r:
        s = r["storm"]
        whole = s["live"] == s["recovered"] == s["clients"] and not s["failed"]
        out[f"storm_all_recovered_{n}"] = check(
            f"{s['recovered']}/{s['clients']} in {s['last_live_s']} s", "all, none refused", whole
        )
    if "frozen" in r:
        growth = r["frozen"]["growth_mib"]
        out[f"frozen_growth_mib_{n}"] = check(growth, "flat (< 2 MiB)", growth < 2)
    return out


def goals(results: list[Result]) -> Result:
    out: Result = {}
    for (kind, _), r in sorted(by_key(results).items()):
        if kind == "ocrlive":
            out |= goals_of(results, r)
    return out


def print_goals(checks: Result) -> None:
    print("\ngoals (ocrlive):")
    for name, item in checks.items():
        verdict = "ok  " if item["met"] else "MISS"
        print(f"  {verdict} {name}: {item['value']} (goal {item['goal']})")
