// One live client per page, handed down by context so tests can pass a client wired to a
// fake socket server and a fake API instead of the browser's.
import { createContext, useContext, useEffect, type ReactNode } from "react";
import { createApi, type Api, type FetchLike } from "../api/http";
import { uploadTask, type UploadRequest, type UploadResponse, type XhrFactory } from "../api/upload";
import { LiveClient, type LiveClientOptions } from "./client";
import { ResultCache } from "./results";
import { defaultSocketUrl } from "./transport";

export interface LiveServices {
  client: LiveClient;
  api: Api;
  results: ResultCache;
  upload: (req: UploadRequest) => Promise<UploadResponse>;
}

const LiveContext = createContext<LiveServices | null>(null);

export function LiveProvider({ services, children }: { services: LiveServices; children: ReactNode }) {
  const { client } = services;
  // Not closed on unmount: StrictMode's mount/unmount/mount would reconnect for nothing,
  // and the page owns the client's lifetime.
  useEffect(() => client.connect(), [client]);
  return <LiveContext.Provider value={services}>{children}</LiveContext.Provider>;
}

export function useLive(): LiveServices {
  const services = useContext(LiveContext);
  if (!services) throw new Error("useLive() needs a <LiveProvider> above it");
  return services;
}

export interface ServiceOptions {
  client?: Partial<LiveClientOptions>;
  fetch?: FetchLike;
  createXhr?: XhrFactory;
}

/** Wires the pieces: a 401 from any HTTP call puts the live client into `unauthorized`. */
export function createServices(opts: ServiceOptions = {}): LiveServices {
  const client = new LiveClient({ url: defaultSocketUrl(), ...opts.client });
  const onUnauthorized = (): void => client.reportUnauthorized();
  const api = createApi({ fetch: opts.fetch, onUnauthorized });
  const results = new ResultCache((id) => api.getResult(id));
  // A corrected line or a finished re-run changes a result that may be on screen.
  client.onTaskEvent((ev) => {
    if (ev.event === "task.corrected" || ev.event === "task.completed") results.refresh(ev.task.id);
  });
  const upload = (req: UploadRequest): Promise<UploadResponse> =>
    uploadTask(req, { createXhr: opts.createXhr, onUnauthorized });
  return { client, api, results, upload };
}
