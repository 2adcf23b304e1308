// Server error codes (docs/protocol.md) in words a ward clerk can act on. The server's own
// message is shown only where it carries detail the code lacks (e.g. which field).

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    /** Seconds from a Retry-After header (queue_full, rate_limited). */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

const HTTP_MESSAGES: Record<string, string> = {
  unauthorized: "Your session has ended. Sign in again, then try again.",
  session_expired: "Your session has ended. Sign in again, then try again.",
  forbidden: "Your role does not allow this.",
  invalid_credentials: "Wrong username or password.",
  forbidden_origin: "The server refused this page's address. Open ocrlive from its own link.",
  not_found: "This document could not be found. It may have been removed.",
  unsupported_type: "This file is not a PNG, JPEG, TIFF or PDF document.",
  file_too_large: "This file is larger than the server accepts. Scan it at a lower resolution or split it.",
  empty_file: "This file is empty. Check the scan and choose it again.",
  invalid_state: "This document can no longer be changed; it may have just finished.",
  not_ready: "The text is not ready yet.",
  queue_full: "The reading queue is full right now. Please try again shortly.",
  rate_limited: "Too many requests from this computer. Please wait a moment and try again.",
  internal_error:
    "The server ran into a problem. Please try again; if it keeps happening, contact IT support.",
  network_error: "Could not reach the ocrlive server. Check the network connection and try again.",
  aborted: "The upload was stopped.",
};

const TASK_MESSAGES: Record<string, string> = {
  unsupported_type: "The file's content is not a PNG, JPEG, TIFF or PDF document.",
  unreadable_document: "The file is damaged or could not be opened.",
  too_many_pixels: "A page is too large to read safely. Scan it at a lower resolution.",
  too_many_pages: "The document has more pages than the server allows. Split it and upload the parts.",
  engine_error: "The text recognizer failed on this document.",
  timeout: "Reading this document took too long and was stopped.",
  worker_crashed: "The reader stopped unexpectedly on this document, twice.",
  interrupted: "The server restarted while this document was being read.",
};

export interface CodedLike {
  code: string;
  message: string;
}

/** A sentence for an HTTP or WebSocket error. */
export function describeError(err: CodedLike & { retryAfter?: number | null }): string {
  if (err.code === "invalid_request") return `The server did not accept this: ${err.message}`;
  const base = HTTP_MESSAGES[err.code] ?? err.message ?? "Something went wrong.";
  if ((err.code === "queue_full" || err.code === "rate_limited") && err.retryAfter) {
    return `${base.replace(/ Please.*$/, "")} Please try again in ${err.retryAfter} seconds.`;
  }
  return base;
}

/** A sentence for `task.error`. */
export function describeTaskError(err: CodedLike): string {
  return TASK_MESSAGES[err.code] ?? (err.message || "Reading this document failed.");
}

export function toCoded(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError("network_error", String(err), 0);
}
