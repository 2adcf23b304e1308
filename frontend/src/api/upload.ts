// Uploads use XMLHttpRequest rather than fetch because only XHR reports upload progress,
// which matters for 50 MB scans over ward Wi-Fi.
import { ApiError } from "./errors";
import type { Priority, Task } from "./types";

/** The subset of XMLHttpRequest used here, so tests can script one. */
export interface XhrLike {
  upload: { onprogress: ((ev: ProgressEvent) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  status: number;
  responseText: string;
  withCredentials: boolean;
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  getResponseHeader(name: string): string | null;
  send(body: FormData): void;
  abort(): void;
}

export type XhrFactory = () => XhrLike;

export interface UploadRequest {
  file: File;
  patientId: string;
  documentType: string;
  priority: Priority;
  /** Same key on a retry of the same attempt, so the server returns the existing task. */
  idempotencyKey: string;
  onProgress?: (loaded: number, total: number) => void;
  signal?: AbortSignal;
}

export interface UploadResponse {
  task: Task;
  /** 200 instead of 202: the server had already seen this key. */
  duplicate: boolean;
}

export interface UploadOptions {
  createXhr?: XhrFactory;
  onUnauthorized?: () => void;
}

/** crypto.randomUUID needs a secure context; ward PCs often reach the server over plain http. */
export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function parseError(xhr: XhrLike): ApiError {
  const retryAfter = Number(xhr.getResponseHeader("Retry-After")) || null;
  let code = xhr.status === 401 ? "unauthorized" : "internal_error";
  let message = `HTTP ${xhr.status}`;
  try {
    const err = (JSON.parse(xhr.responseText) as { error?: { code?: unknown; message?: unknown } })
      .error;
    if (typeof err?.code === "string") code = err.code;
    if (typeof err?.message === "string") message = err.message;
  } catch {
    // a proxy's HTML error page: keep the status-derived code
  }
  return new ApiError(code, message, xhr.status, retryAfter);
}

function buildForm(req: UploadRequest): FormData {
  const form = new FormData();
  form.append("patient_id", req.patientId);
  form.append("document_type", req.documentType);
  form.append("priority", req.priority);
  form.append("file", req.file, req.file.name);
  return form;
}

export function uploadTask(req: UploadRequest, opts: UploadOptions = {}): Promise<UploadResponse> {
  const xhr = opts.createXhr ? opts.createXhr() : (new XMLHttpRequest() as XhrLike);
  return new Promise((resolve, reject) => {
    xhr.open("POST", "/api/tasks");
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Idempotency-Key", req.idempotencyKey);
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable) req.onProgress?.(ev.loaded, ev.total);
    };
    xhr.onerror = () => reject(new ApiError("network_error", "network error", 0));
    xhr.onabort = () => reject(new ApiError("aborted", "upload aborted", 0));
    xhr.onload = () => {
      if (xhr.status === 200 || xhr.status === 202) {
        try {
          const { task } = JSON.parse(xhr.responseText) as { task: Task };
          return resolve({ task, duplicate: xhr.status === 200 });
        } catch {
          return reject(new ApiError("internal_error", "malformed reply", xhr.status));
        }
      }
      if (xhr.status === 401) opts.onUnauthorized?.();
      reject(parseError(xhr));
    };
    req.signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(buildForm(req));
  });
}
