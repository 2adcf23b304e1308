// The engine settings a re-run may change (POST /api/tasks/{id}/rerun, docs/protocol.md;
// the server's list is READ_SETTINGS in backend/ocrlive/ocr/types.py). Framework-free:
// the form's strings in, the request's settings or the faults out.

import type { RerunSettings } from "../../api/types";

export type { RerunSettings };

export type SettingName = keyof RerunSettings;

export interface SettingSpec {
  name: SettingName;
  label: string;
  /** "number" and "whole" are typed in; "choice" is picked from `choices`. */
  kind: "number" | "whole" | "choice";
  min?: number;
  max?: number;
  step?: number;
  /** [value sent, label shown]; "" (not sent) always comes first: the server's. */
  choices?: [string, string][];
  /** The server's default, as docs/protocol.md gives it. */
  serverDefault: string;
  help: string;
}

export const RERUN_SETTINGS: readonly SettingSpec[] = [
  { name: "box_threshold", label: "Box threshold", kind: "number", min: 0.05, max: 0.95, step: 0.05,
    serverDefault: "0.5", help: "How sure detection must be that a box holds text: lower finds faint lines, higher drops specks." },
  { name: "space_threshold", label: "Space threshold", kind: "number", min: 0, max: 1, step: 0.01,
    serverDefault: "0.05", help: "How likely a gap between two letters must be a space to be read as one; 0 turns the rule off." },
  { name: "orientation", label: "Turn pages upright", kind: "choice", serverDefault: "yes",
    choices: [["true", "Yes"], ["false", "No"]], help: "Turn pages that arrive sideways or upside down." },
  { name: "detection_side", label: "Detection side (pixels)", kind: "whole", min: 32, max: 4000, step: 1,
    serverDefault: "64", help: "The page size detection works at, with the detection limit." },
  { name: "detection_limit", label: "Detection limit", kind: "choice", serverDefault: "min",
    choices: [["min", "min: the shorter side at least the detection side"], ["max", "max: the longer side at most"]],
    help: "Which side of the page the detection side applies to." },
];

/** What the form holds: one string per setting, "" for the server's value. */
export type RerunForm = Record<SettingName, string>;

export function emptyForm(): RerunForm {
  return { box_threshold: "", space_threshold: "", orientation: "", detection_side: "", detection_limit: "" };
}

function fault(spec: SettingSpec, raw: string): string | null {
  const value = Number(raw);
  const noun = spec.kind === "whole" ? "a whole number" : "a number";
  const wrong = !Number.isFinite(value) || (spec.kind === "whole" && !Number.isInteger(value));
  if (wrong || value < (spec.min ?? -Infinity) || value > (spec.max ?? Infinity)) {
    return `${spec.label} must be ${noun} from ${spec.min} to ${spec.max}.`;
  }
  return null;
}

function valueOf(spec: SettingSpec, raw: string): number | boolean | string {
  if (spec.kind !== "choice") return Number(raw);
  return spec.name === "orientation" ? raw === "true" : raw;
}

/** The settings to send (only those chosen) and a message per faulty field. */
export function settingsFromForm(form: RerunForm): { settings: RerunSettings; errors: Partial<RerunForm> } {
  const settings: Record<string, unknown> = {};
  const errors: Partial<RerunForm> = {};
  for (const spec of RERUN_SETTINGS) {
    const raw = form[spec.name].trim();
    if (raw === "") continue;
    const problem = spec.kind === "choice" ? null : fault(spec, raw);
    if (problem) errors[spec.name] = problem;
    else settings[spec.name] = valueOf(spec, raw);
  }
  return { settings: settings as RerunSettings, errors };
}

/** "box threshold 0.3, turn pages upright no", or the server's settings. */
export function describeSettings(settings: object | undefined): string {
  const values = (settings ?? {}) as Record<string, unknown>;
  const parts = RERUN_SETTINGS.filter((s) => values[s.name] !== undefined).map((s) => {
    const value = values[s.name];
    const shown = typeof value === "boolean" ? (value ? "yes" : "no") : String(value);
    return `${s.label.toLowerCase()} ${shown}`;
  });
  return parts.length ? parts.join(", ") : "the server's settings";
}
