import { vi } from "vitest";
import { LiveClient, type LiveClientOptions } from "../live/client";
import type { EventMessage } from "../live/protocol";
import type { NetworkMonitor } from "../live/transport";
import { FakeServer, type FakeServerOptions } from "./fakeServer";

export class FakeNetwork implements NetworkMonitor {
  online = true;
  private listeners = new Set<(online: boolean) => void>();
  isOnline = (): boolean => this.online;
  subscribe(cb: (online: boolean) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }
  set(online: boolean): void {
    this.online = online;
    for (const l of this.listeners) l(online);
  }
}

export interface Harness {
  server: FakeServer;
  client: LiveClient;
  network: FakeNetwork;
  events: EventMessage[];
}

export function createHarness(
  serverOpts: FakeServerOptions = {},
  clientOpts: Partial<LiveClientOptions> = {},
): Harness {
  const server = new FakeServer(serverOpts);
  const network = new FakeNetwork();
  const client = new LiveClient({
    url: "ws://ocrlive.test/api/ws",
    WebSocket: server.WebSocket,
    network,
    unsubscribeDelayMs: 0,
    random: () => 0.5, // deterministic jitter: delays are half the ceiling
    ...clientOpts,
  });
  const events: EventMessage[] = [];
  client.onTaskEvent((e) => events.push(e));
  return { server, client, network, events };
}

/** Runs queued microtasks (the fake server's accept + hello) under fake timers. */
export async function flush(ms = 0): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}
