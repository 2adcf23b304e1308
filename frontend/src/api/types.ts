// Shapes from docs/protocol.md. Kept in one place so the client core and the UI agree;
// the enums themselves come from the backend (vocabulary.ts is generated).
import {
  DOCUMENT_TYPE_VALUES,
  FINISHED_STATUSES,
  type DocumentType,
  type Priority,
  type TaskStage,
  type TaskStatus,
} from "./vocabulary";

export { TASK_STATUSES } from "./vocabulary";
export type { DocumentType, Priority, TaskStage, TaskStatus };

const DOCUMENT_TYPE_LABELS: Record<DocumentType, string> = {
  caution_card: "Caution card",
  referral_letter: "Referral letter",
  lab_report: "Lab report",
  discharge_summary: "Discharge summary",
  other: "Other",
};

export const DOCUMENT_TYPES = DOCUMENT_TYPE_VALUES.map((value) => ({
  value,
  label: DOCUMENT_TYPE_LABELS[value],
}));

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

export const TERMINAL_STATUSES: ReadonlySet<string> = FINISHED_STATUSES;

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

export function documentTypeLabel(value: string): string {
  return DOCUMENT_TYPES.find((d) => d.value === value)?.label ?? value;
}
