// Renders components against a fake socket server, a route-table fetch and a scripted XHR.
import { render, renderHook, type RenderOptions } from "@testing-library/react";
import type { ReactElement, ReactNode } from "react";
import { vi } from "vitest";
import { LiveProvider, createServices, type LiveServices } from "../live/context";
import { FakeServer, type FakeServerOptions } from "./fakeServer";
import { FakeXhr } from "./fakeXhr";

export type Route = (init: RequestInit | undefined) => Response | Promise<Response>;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

export interface LiveEnv {
  server: FakeServer;
  services: LiveServices;
  fetch: ReturnType<typeof vi.fn<(input: string, init?: RequestInit) => Promise<Response>>>;
  routes: Map<string, Route>;
  xhrs: FakeXhr[];
  wrapper: (props: { children: ReactNode }) => ReactElement;
}

export function createLiveEnv(serverOpts: FakeServerOptions = {}): LiveEnv {
  const server = new FakeServer(serverOpts);
  const routes = new Map<string, Route>();
  const xhrs: FakeXhr[] = [];
  const fetch = vi.fn(async (input: string, init?: RequestInit) => {
    const key = `${init?.method ?? "GET"} ${input}`;
    const route = routes.get(key);
    if (!route) return json(404, { error: { code: "not_found", message: `no route ${key}` } });
    return route(init);
  });
  const services = createServices({
    client: {
      url: "ws://ocrlive.test/api/ws",
      WebSocket: server.WebSocket,
      network: null,
      random: () => 0.5,
      unsubscribeDelayMs: 0,
    },
    fetch,
    createXhr: () => {
      const x = new FakeXhr();
      xhrs.push(x);
      return x;
    },
  });
  const wrapper = ({ children }: { children: ReactNode }) => (
    <LiveProvider services={services}>{children}</LiveProvider>
  );
  return { server, services, fetch, routes, xhrs, wrapper };
}

export function renderLive(ui: ReactElement, env: LiveEnv, opts: RenderOptions = {}) {
  return render(ui, { wrapper: env.wrapper, ...opts });
}

export function renderLiveHook<T>(hook: () => T, env: LiveEnv) {
  return renderHook(hook, { wrapper: env.wrapper });
}
