// Shared cache of OCR results, so the tracker, the viewer and the dashboard that all show
// one task trigger one GET /api/tasks/{id}/result between them.
import { toCoded, type ApiError } from "../api/errors";
import type { OcrResult } from "../api/types";

export type ResultState =
  | { readonly status: "loading" }
  | { readonly status: "ready"; readonly result: OcrResult }
  | { readonly status: "error"; readonly error: ApiError };

/** Results can hold thousands of boxes; a clerk rarely revisits more than a few. */
const MAX_ENTRIES = 20;

export class ResultCache {
  private readonly states = new Map<string, ResultState>();
  private readonly listeners = new Set<() => void>();

  constructor(private readonly load: (taskId: string) => Promise<OcrResult>) {}

  get = (taskId: string): ResultState | undefined => this.states.get(taskId);

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Starts a load unless one is running or done; a failed load is retried. */
  ensure(taskId: string): void {
    const current = this.states.get(taskId);
    if (current && current.status !== "error") return;
    this.set(taskId, { status: "loading" });
    this.load(taskId).then(
      (result) => this.set(taskId, { status: "ready", result }),
      (err: unknown) => this.set(taskId, { status: "error", error: toCoded(err) }),
    );
  }

  /**
   * Loads a result again after it changed (a correction, a re-run): the current one stays
   * on screen until the new one arrives. Results nobody asked for are left alone.
   */
  refresh(taskId: string): void {
    if (!this.states.has(taskId)) return;
    this.load(taskId).then(
      (result) => this.set(taskId, { status: "ready", result }),
      () => undefined, // the one on screen stays; the next change or a reload retries
    );
  }

  private set(taskId: string, state: ResultState): void {
    this.states.delete(taskId); // re-insert to keep Map order = recency
    this.states.set(taskId, state);
    while (this.states.size > MAX_ENTRIES) {
      const oldest = this.states.keys().next().value;
      if (oldest === undefined) break;
      this.states.delete(oldest);
    }
    for (const l of [...this.listeners]) l();
  }
}
