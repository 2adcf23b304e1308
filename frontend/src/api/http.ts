// JSON calls to /api (same origin, session cookie). A 401 anywhere means the session is
// gone, so it is reported once through onUnauthorized as well as thrown.
import { ApiError } from "./errors";
import type {
  LineEditRequest,
  LineEditResponse,
  OcrResult,
  PatientDocument,
  RerunSettings,
  ReviewEntry,
  RevisionHistory,
  SearchParams,
  SearchResponse,
  Task,
} from "./types";

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
  /** A completed document read again; `settings` change the engine for this reading only. */
  rerun(id: string, settings?: RerunSettings): Promise<Task>;
  revisions(id: string): Promise<RevisionHistory>;
  search(params: SearchParams, signal?: AbortSignal): Promise<SearchResponse>;
  patientDocuments(patientId: string): Promise<{ documents: PatientDocument[]; total: number }>;
  reviewQueue(): Promise<{ documents: ReviewEntry[]; total: number; threshold: number }>;
  editLine(taskId: string, page: number, line: number, body: LineEditRequest): Promise<LineEditResponse>;
  /** A ZIP of one file per document (POST /api/exports). */
  exportZip(taskIds: string[], format: "pdf" | "txt" | "json"): Promise<Blob>;
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

  async function call<T>(
    path: string,
    method: "GET" | "POST" = "GET",
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<T> {
    let res: Response;
    const headers: Record<string, string> = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    try {
      res = await doFetch(path, {
        method,
        credentials: "same-origin",
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (err) {
      if (signal?.aborted) throw new ApiError("aborted", "The request was superseded", 0);
      throw new ApiError("network_error", String(err), 0);
    }
    if (!res.ok) {
      const err = await readApiError(res);
      if (res.status === 401) reportUnauthorized();
      throw err;
    }
    return (await res.json()) as T;
  }

  async function download(path: string, body: unknown): Promise<Blob> {
    let res: Response;
    try {
      res = await doFetch(path, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError("network_error", String(err), 0);
    }
    if (!res.ok) {
      const err = await readApiError(res);
      if (res.status === 401) reportUnauthorized();
      throw err;
    }
    return res.blob();
  }

  const enc = encodeURIComponent;
  return {
    listTasks: async (status = "all", limit = 200) =>
      (await call<{ tasks: Task[] }>(`/api/tasks?status=${status}&limit=${limit}`)).tasks,
    getTask: async (id) => (await call<{ task: Task }>(`/api/tasks/${enc(id)}`)).task,
    getResult: (id) => call<OcrResult>(`/api/tasks/${enc(id)}/result`),
    cancel: async (id) => (await call<{ task: Task }>(`/api/tasks/${enc(id)}/cancel`, "POST")).task,
    retry: async (id) => (await call<{ task: Task }>(`/api/tasks/${enc(id)}/retry`, "POST")).task,
    rerun: async (id, settings) =>
      (await call<{ task: Task }>(`/api/tasks/${enc(id)}/rerun`, "POST", settings ? { settings } : undefined)).task,
    revisions: (id) => call<RevisionHistory>(`/api/tasks/${enc(id)}/revisions`),
    search: (params, signal) => call<SearchResponse>(`/api/search?${searchQuery(params)}`, "GET", undefined, signal),
    patientDocuments: (patientId) => call(`/api/patients/${enc(patientId)}/documents?limit=100`),
    reviewQueue: () => call(`/api/review?limit=100`),
    editLine: (taskId, page, line, body) =>
      call<LineEditResponse>(`/api/tasks/${enc(taskId)}/pages/${page}/lines/${line}`, "POST", body),
    exportZip: (taskIds, format) => download("/api/exports", { task_ids: taskIds, format }),
    reportUnauthorized,
  };
}

/** Only the parameters that are set, in a stable order. */
export function searchQuery(params: SearchParams): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== "") query.set(key, String(value));
  }
  return query.toString();
}
