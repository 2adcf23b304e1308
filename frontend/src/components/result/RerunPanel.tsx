import { useId, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import type { Task } from "../../api/types";
import {
  RERUN_SETTINGS,
  describeSettings,
  emptyForm,
  settingsFromForm,
  type RerunForm,
  type RerunSettings,
  type SettingSpec,
} from "./rerunSettings";

interface Props {
  /** Only a completed document can be read again (invalid_state otherwise). */
  completed: boolean;
  revision: number | undefined;
  /** Resolves with the queued task; rejects with a message to show. */
  onRerun: (settings: RerunSettings) => Promise<Task>;
}

function SettingField({ spec, uid, value, error, onChange }: {
  spec: SettingSpec; uid: string; value: string; error?: string; onChange: (v: string) => void;
}) {
  const id = `${uid}-${spec.name}`;
  const described = [`${id}-help`, error ? `${id}-error` : ""].filter(Boolean).join(" ");
  const common = { id, value, "aria-describedby": described, "aria-invalid": error ? true : undefined };
  return (
    <div className="field">
      <label htmlFor={id}>{spec.label}</label>
      {spec.kind === "choice" ? (
        <select {...common} onChange={(e) => onChange(e.target.value)}>
          <option value="">Server's ({spec.serverDefault})</option>
          {spec.choices?.map(([v, label]) => (
            <option key={v} value={v}>
              {label}
            </option>
          ))}
        </select>
      ) : (
        <input {...common} type="number" inputMode="decimal" min={spec.min} max={spec.max} step={spec.step}
          placeholder={`Server's: ${spec.serverDefault}`} onChange={(e) => onChange(e.target.value)} />
      )}
      <p id={`${id}-help`} className="muted field__help">
        {spec.help} {spec.kind !== "choice" && `From ${spec.min} to ${spec.max}.`}
      </p>
      {error && (
        <p id={`${id}-error`} className="field__error">
          {error}
        </p>
      )}
    </div>
  );
}

/** "Re-run OCR": the document read again, with engine settings chosen for this reading. */
export function RerunPanel({ completed, revision, onRerun }: Props) {
  const uid = useId();
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState<RerunForm>(emptyForm);
  const [errors, setErrors] = useState<Partial<RerunForm>>({});
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState("");
  const [failure, setFailure] = useState("");
  const toggle = useRef<HTMLButtonElement>(null);

  const close = () => {
    setOpen(false);
    requestAnimationFrame(() => toggle.current?.focus());
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "Escape") {
      e.preventDefault();
      close();
    }
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const { settings, errors: found } = settingsFromForm(form);
    setErrors(found);
    setFailure("");
    const first = RERUN_SETTINGS.find((s) => found[s.name]);
    if (first) {
      document.getElementById(`${uid}-${first.name}`)?.focus();
      setFailure(`${Object.keys(found).length === 1 ? "One setting needs" : "Some settings need"} fixing.`);
      return;
    }
    setBusy(true);
    try {
      await onRerun(settings);
      const kept = revision ? ` Revision ${revision} stays on screen until the new reading is stored.` : "";
      setNotice(`Re-run queued with ${describeSettings(settings)}.${kept}`);
      setForm(emptyForm());
      close();
    } catch (err) {
      setFailure((err as { message?: string }).message ?? "The re-run was not queued");
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="rerun">
      <button ref={toggle} type="button" className="btn" aria-expanded={open} aria-controls={`${uid}-form`}
        disabled={!completed} onClick={() => (open ? close() : setOpen(true))}>
        Re-run OCR…
      </button>
      {!completed && <span className="muted"> The document is being read; a re-run can start once it is done.</span>}
      <p role="status" className="muted">
        {notice}
      </p>
      {open && (
        <form id={`${uid}-form`} className="rerun__form" onSubmit={submit} onKeyDown={onKeyDown} noValidate>
          <fieldset disabled={busy}>
            <legend>Engine settings for this reading (left blank: the server's)</legend>
            {RERUN_SETTINGS.map((spec) => (
              <SettingField key={spec.name} spec={spec} uid={uid} value={form[spec.name]} error={errors[spec.name]}
                onChange={(v) => setForm((f) => ({ ...f, [spec.name]: v }))} />
            ))}
          </fieldset>
          {failure && (
            <p role="alert" className="field__error">
              {failure}
            </p>
          )}
          <div className="row-actions">
            <button type="submit" className="btn btn--primary" disabled={busy}>
              Start re-run
            </button>
            <button type="button" className="btn btn--ghost" disabled={busy} onClick={close}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </div>
  );
}
