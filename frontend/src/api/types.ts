// Shapes from docs/protocol.md. Kept in one place so the client core and the UI agree.

export const TASK_STATUSES = ["queued", "processing", "completed", "failed", "cancelled"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export type TaskStage =
  | "queued"
  | "loading"
  | "detecting"
  | "recognizing"
  | "done"
  | "failed"
  | "cancelled";

export const DOCUMENT_TYPES = [
  { value: "caution_card", label: "Caution card" },
  { value: "referral_letter", label: "Referral letter" },
  { value: "lab_report", label: "Lab report" },
  { value: "discharge_summary", label: "Discharge summary" },
  { value: "other", label: "Other" },
] as const;
export type DocumentType = (typeof DOCUMENT_TYPES)[number]["value"];

export type Priority = "normal" | "urgent";

export interface CodedError {
  code: string;
  message: string;
}

export interface Task {
  id: string;
  patient_id: string;
  document_type: DocumentType | string;
  filename: string;
  content_type: string;
  size: number;
  priority: Priority | string;
  status: TaskStatus;
  progress: number;
  stage: TaskStage | string;
  message: string;
  pages_done: number;
  pages_total: number;
  attempts: number;
  created_at: string;
  updated_at: string;
  error: CodedError | null;
  version: number;
}

export type Point = [number, number];

export interface OcrLine {
  text: string;
  score: number;
  box: Point[];
}

export interface OcrPage {
  number: number;
  width: number;
  height: number;
  text: string;
  image_url: string;
  lines: OcrLine[];
}

export interface OcrResult {
  task_id: string;
  text: string;
  score: number;
  engine: Record<string, unknown>;
  pages: OcrPage[];
}

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set([
  "completed",
  "failed",
  "cancelled",
]);

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

export function documentTypeLabel(value: string): string {
  return DOCUMENT_TYPES.find((d) => d.value === value)?.label ?? value;
}
