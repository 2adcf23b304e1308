"""Command line: which servers and client counts, within what time; runs and reports."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import benchws
from bench_common import raise_nofile
from benchws.deflate import deflate_micro, print_deflate, progress_frames, run_deflate
from benchws.frozen import run_frozen
from benchws.handles import Combo, combo
from benchws.plan import SERVERS, Plan
from benchws.report import goals, print_goals, print_results
from benchws.scenarios import measure_memory, run_burst, run_steady, run_storm

SCENARIOS = ("memory", "steady", "burst", "storm", "frozen")
QUICK: dict[str, Any] = {"steady_s": 4.0, "burst": 300, "fill": 8000, "frozen_steady_s": 3.0,
                         "deflate_clients": 200}  # fmt: skip
RUN_ERRORS = (RuntimeError, TimeoutError, OSError, KeyError)

log = logging.getLogger("bench_ws")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(benchws.__doc__ or "").split("\n\n")[0])
    parser.add_argument("--clients", default="100,1000", help="client counts, e.g. 100,1000,5000")
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--only", default="", help=f"some of {','.join(SCENARIOS)} (memory always)")
    parser.add_argument("--quick", action="store_true", help="shorter phases (about 3 minutes)")
    parser.add_argument("--json", type=Path, help="write every result here")
    parser.add_argument("--budget-s", type=float, default=570.0, help="stop starting new runs")
    parser.add_argument("--deflate-clients", type=int, default=None, help="0 skips it")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server/clients")
    parser.add_argument("--profile", metavar="DIR", help="cProfile each server into DIR")
    return parser.parse_args(argv)


def _names(text: str, known: tuple[str, ...], what: str) -> list[str]:
    names = [s for s in text.split(",") if s]
    unknown = set(names) - set(known)
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(sorted(unknown))}")
    return names


def make_plan(args: argparse.Namespace) -> Plan:
    servers = _names(args.servers, SERVERS, "servers")
    only = tuple(_names(args.only, SCENARIOS, "scenarios"))
    clients = sorted({int(n) for n in args.clients.split(",") if n})
    sizes = dict(QUICK) if args.quick else {}
    if args.deflate_clients is not None:
        sizes["deflate_clients"] = args.deflate_clients
    if only and args.deflate_clients is None:  # a partial run skips the deflate runs
        sizes["deflate_clients"] = 0
    return Plan(clients=clients, servers=servers, budget_s=args.budget_s, pin=not args.no_pin,
                profile_dir=args.profile, only=only, **sizes)  # fmt: skip


WARMUP_S = 1.0


def run_scenarios(c: Combo, result: dict[str, Any]) -> None:
    plan, ocrlive = c.plan, c.kind == "ocrlive"
    result["memory"] = measure_memory(c)
    if ocrlive:  # after the memory, so this extra socket is not counted
        result["deflate_probe"] = c.fleet.call("probe_deflate", target=c.server.target)
    if plan.runs("steady"):
        # Not measured: whichever steady run came first after the 1,000 connects paid
        # for their settling (ocrlive's real path, always first: p50 50-72 ms against
        # its hub variant's 0.9 right after it; run the other way round, the hub's
        # p99 was 58 ms and the real path's 6.7). Every server warms up alike.
        run_steady(c, "W", WARMUP_S)
        result["steady"] = run_steady(c, "S", plan.steady_s)
        if ocrlive:
            result["steady_hub"] = run_steady(c, "S", plan.steady_s, how="hub")
    if plan.runs("burst"):
        result["burst"] = run_burst(c, "B")
        if ocrlive:
            result["burst_hub"] = run_burst(c, "B", how="hub")
    if plan.runs("frozen"):
        result["frozen"] = run_frozen(c)
    if plan.runs("storm"):  # last: it replaces every client socket
        result["storm"] = run_storm(c)


def run_combo(plan: Plan, kind: str, clients: int, root: Path) -> dict[str, Any]:
    # Another workload on the machine skews wall-clock numbers (not CPU per delivery).
    result: dict[str, Any] = {"server": kind, "clients": clients, "load_before": os.getloadavg()}
    try:
        with combo(plan, kind, clients, root) as c:
            run_scenarios(c, result)
    except RUN_ERRORS as exc:
        log.exception("%s with %d clients failed", kind, clients)
        result["error"] = f"{type(exc).__name__}: {exc}"
    result["load_after"] = os.getloadavg()
    return result


def run_servers(plan: Plan, root: Path, deadline: float) -> list[dict[str, Any]]:
    results = []
    for clients in plan.clients:
        for kind in plan.servers:
            if time.monotonic() + plan.estimate_s(clients) > deadline:
                log.warning("skipping %s with %d clients: over the time budget", kind, clients)
                results.append({"server": kind, "clients": clients, "error": "skipped: budget"})
                continue
            log.info("%s with %d clients", kind, clients)
            results.append(run_combo(plan, kind, clients, root))
    return results


def run_deflate_e2e(plan: Plan, root: Path, deadline: float) -> dict[str, Any] | None:
    if not plan.deflate_clients or time.monotonic() + 40 > deadline:
        return None
    log.info("plain with %d clients, without and with deflate", plan.deflate_clients)
    try:
        return run_deflate(plan, root)
    except RUN_ERRORS as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def report(plan: Plan, results: list[dict[str, Any]], e2e: Any, seconds: float) -> dict[str, Any]:
    """Print every table; the whole report, for --json."""
    micro = deflate_micro(progress_frames())
    print_results(results)
    print_deflate(micro, e2e)
    checks = goals(results)
    print_goals(checks)
    python = sys.version.split()[0]
    print(f"\ntotal {seconds:.0f} s, {os.cpu_count()} cpus, python {python}")
    return {"plan": asdict(plan), "results": results, "deflate": {"micro": micro, "e2e": e2e},
            "goals": checks, "seconds": round(seconds, 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    raise_nofile()
    t0 = time.monotonic()
    deadline = t0 + plan.budget_s
    with tempfile.TemporaryDirectory(prefix="bench_ws-") as tmp:
        results = run_servers(plan, Path(tmp), deadline)
        e2e = run_deflate_e2e(plan, Path(tmp), deadline)
    full = report(plan, results, e2e, time.monotonic() - t0)
    if args.json:
        args.json.write_text(json.dumps(full, indent=2, default=str))
    return 0
