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

export type ReviewState = "confirmed" | "corrected" | null;

export interface OcrLine {
  text: string;
  score: number;
  box: Point[];
  /** Below the server's review threshold. */
  doubtful?: boolean;
  reviewed?: ReviewState;
  /** The revision that last changed this line (0: never). */
  revision?: number;
  /** What the engine read, before any correction. */
  ocr_text?: string;
}

export interface OcrPage {
  number: number;
  width: number;
  height: number;
  /** Clockwise degrees the page was turned to read it upright; image and boxes are upright. */
  rotation: number;
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
  /** The run that read it (its pages' `image_url` name it); absent on results stored before runs had folders. */
  run?: number;
  revision?: number;
  review_threshold?: number;
  pending_review?: number;
}

export interface SnippetPart {
  text: string;
  match: boolean;
}

export interface SearchHit {
  task: Task;
  page: number;
  score: number;
  snippet: SnippetPart[];
}

export interface SearchResponse {
  hits: SearchHit[];
  total: number;
  total_exact: boolean;
  /** "recent": more than `total` pages match, shown newest first instead of best first. */
  order?: "rank" | "recent";
  limit: number;
  offset: number;
}

export interface SearchParams {
  q: string;
  patient_id?: string;
  document_type?: string;
  status?: string;
  from?: string;
  to?: string;
  offset?: number;
  limit?: number;
}

export interface PatientDocument {
  task: Task;
  first_lines: string[];
  revision: number;
  pending_review: number;
}

export interface ReviewEntry {
  task: Task;
  pending: number;
  min_score: number;
}

export interface LineEditRequest {
  action: "correct" | "confirm";
  text?: string;
  /** The revision the editor saw: a stale edit is refused with revision_conflict. */
  revision?: number;
}

/** Engine settings for one re-run (docs/protocol.md); any left out are the server's. */
export type RerunSettings = {
  box_threshold?: number;
  space_threshold?: number;
  orientation?: boolean;
  detection_side?: number;
  detection_limit?: "min" | "max";
};

/** A reading that a re-run replaced, kept under /revisions/{revision}. */
export interface ReplacedRevision {
  revision: number;
  replaced_at: string;
  /** The engine that made it; `settings` holds the re-run's own ({}: the server's). */
  engine: Record<string, unknown>;
}

export interface RevisionHistory {
  task_id: string;
  /** The current revision; null before the first reading is stored. */
  revision: number | null;
  edits: Record<string, unknown>[];
  replaced: ReplacedRevision[];
}

export interface LineEditResponse {
  task: Task;
  revision: number;
  line: OcrLine;
}

export const TERMINAL_STATUSES: ReadonlySet<string> = FINISHED_STATUSES;

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

export function documentTypeLabel(value: string): string {
  return DOCUMENT_TYPES.find((d) => d.value === value)?.label ?? value;
}
