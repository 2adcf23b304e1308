// Wording shown to clinicians. Status is never conveyed by colour alone: every status has
// an icon and a word, and the CSS colour only reinforces them.
import type { Task, TaskStatus } from "./api/types";

export interface StatusMeta {
  label: string;
  icon: string;
}

export const STATUS_META: Record<TaskStatus, StatusMeta> = {
  queued: { label: "Queued", icon: "◷" },
  processing: { label: "Reading", icon: "⟳" },
  completed: { label: "Done", icon: "✓" },
  failed: { label: "Failed", icon: "✕" },
  cancelled: { label: "Cancelled", icon: "⊘" },
};

const STAGE_WORDS: Record<string, string> = {
  queued: "waiting in the queue",
  loading: "opening the document",
  detecting: "finding text",
  recognizing: "recognizing text",
  done: "done",
  failed: "failed",
  cancelled: "cancelled",
};

export function stageWords(stage: string | null | undefined): string {
  if (!stage) return "";
  return STAGE_WORDS[stage] ?? stage;
}

/** "Page 2 of 5, recognizing text" while reading; a summary otherwise. */
export function pageText(
  task: Pick<Task, "status" | "stage" | "pages_done" | "pages_total">,
): string {
  const total = task.pages_total;
  switch (task.status) {
    case "queued":
      return "Waiting in the queue";
    case "processing": {
      const words = stageWords(task.stage);
      if (total <= 0) return capitalize(words || "starting");
      const page = Math.min(task.pages_done + 1, total);
      return `Page ${page} of ${total}, ${words}`;
    }
    case "completed":
      return total === 1 ? "1 page read" : `${total} pages read`;
    case "failed":
      return total > 0 ? `Stopped after ${task.pages_done} of ${total} pages` : "Stopped";
    case "cancelled":
      return "Cancelled";
  }
}

export function percent(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.round(Math.min(100, Math.max(0, value)));
}

export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const sameDay = d.toDateString() === new Date().toDateString();
  const time = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  return sameDay ? time : `${d.toLocaleDateString()} ${time}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
