// JSON calls to /api (same origin, session cookie). A 401 anywhere means the session is
// gone, so it is reported once through onUnauthorized as well as thrown.
import { ApiError } from "./errors";
import type { OcrResult, Task } from "./types";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface ApiOptions {
  fetch?: FetchLike;
  onUnauthorized?: () => void;
}

export interface Api {
  listTasks(status?: "active" | "finished" | "all", limit?: number): Promise<Task[]>;
  getTask(id: string): Promise<Task>;
  getResult(id: string): Promise<OcrResult>;
  cancel(id: string): Promise<Task>;
  retry(id: string): Promise<Task>;
  /** Lets the upload helper report 401s the same way. */
  reportUnauthorized(): void;
}

export async function readApiError(res: Response): Promise<ApiError> {
  const retryAfter = Number(res.headers.get("Retry-After")) || null;
  let code = res.status === 401 ? "unauthorized" : "internal_error";
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body: unknown = await res.json();
    const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    if (typeof err?.code === "string") code = err.code;
    if (typeof err?.message === "string") message = err.message;
  } catch {
    // not JSON (a proxy's error page); keep the status-derived code
  }
  return new ApiError(code, message, res.status, retryAfter);
}

export function createApi(opts: ApiOptions = {}): Api {
  const doFetch: FetchLike = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const reportUnauthorized = (): void => opts.onUnauthorized?.();

  async function call<T>(path: string, method: "GET" | "POST" = "GET"): Promise<T> {
    let res: Response;
    try {
      res = await doFetch(path, {
        method,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
    } catch (err) {
      throw new ApiError("network_error", String(err), 0);
    }
    if (!res.ok) {
      const err = await readApiError(res);
      if (res.status === 401) reportUnauthorized();
      throw err;
    }
    return (await res.json()) as T;
  }

  const enc = encodeURIComponent;
  return {
    listTasks: async (status = "all", limit = 200) =>
      (await call<{ tasks: Task[] }>(`/api/tasks?status=${status}&limit=${limit}`)).tasks,
    getTask: async (id) => (await call<{ task: Task }>(`/api/tasks/${enc(id)}`)).task,
    getResult: (id) => call<OcrResult>(`/api/tasks/${enc(id)}/result`),
    cancel: async (id) => (await call<{ task: Task }>(`/api/tasks/${enc(id)}/cancel`, "POST")).task,
    retry: async (id) => (await call<{ task: Task }>(`/api/tasks/${enc(id)}/retry`, "POST")).task,
    reportUnauthorized,
  };
}
