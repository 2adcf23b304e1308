"""The sizes of one benchmark run and the constants every module shares."""

from __future__ import annotations

from dataclasses import dataclass

SERVERS = ("ocrlive", "plain", "socketio")
SERVER_CPU, CLIENT_CPU = 0, 1
FROZEN_RCVBUF = 4096  # a slow client on a small TCP window
KIB, MIB = 1024, 1024 * 1024


@dataclass(frozen=True)
class Plan:
    clients: list[int]
    servers: list[str]
    tasks: int = 50
    rate: float = 10.0
    steady_s: float = 10.0
    burst: int = 1000
    burst_max_deliveries: int = 1_000_000  # fewer burst events at 5000 clients
    burst_max_s: float = 45.0
    fill: int = 12_000  # ~8 MB of frames: more than the kernel buffers of a frozen socket
    lifecycle: int = 600  # non-collapsible events: more than ocrlive's outbox limit (256)
    frozen_steady_s: float = 6.0
    storm_lead_s: float = 1.0  # progress before the storm
    storm_window_s: float = 1.0  # every client reconnects within this
    deflate_clients: int = 300  # the plain server with and without deflate clients
    budget_s: float = 570.0
    pin: bool = True
    profile_dir: str | None = None
    only: tuple[str, ...] = ()  # e.g. ("memory", "burst"): skip the other scenarios

    def burst_events(self, clients: int) -> int:
        return max(50, min(self.burst, self.burst_max_deliveries // max(1, clients)))

    def runs(self, scenario: str) -> bool:
        return not self.only or scenario in self.only

    def estimate_s(self, clients: int) -> float:
        """A rough cost of one server at one client count, to skip what cannot fit."""
        deliveries = 2 * self.burst_events(clients) * clients
        phases = self.steady_s + self.frozen_steady_s if self.runs("steady") else 0.0
        phases += 8 + clients * 0.003 if self.runs("storm") else 0.0
        return 25 + phases + clients * 0.01 + deliveries / 40_000
