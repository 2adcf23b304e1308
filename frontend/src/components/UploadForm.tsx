import { useId, useState, type DragEvent, type FormEvent } from "react";
import { DOCUMENT_TYPES, type Task } from "../api/types";
import { formatBytes } from "../format";
import { UploadRow } from "./upload/UploadRow";
import { useUploads } from "./upload/useUploads";
import { ACCEPT, MAX_UPLOAD_BYTES, validateFiles, validatePatientId } from "./upload/validate";

interface Props {
  /** Called once per file the server accepted. */
  onUploaded?: (task: Task) => void;
  onViewTask?: (taskId: string) => void;
  maxBytes?: number;
}

interface Errors {
  patientId: string | null;
  files: string[];
}

const NO_ERRORS: Errors = { patientId: null, files: [] };

export function UploadForm({ onUploaded, onViewTask, maxBytes = MAX_UPLOAD_BYTES }: Props) {
  const uid = useId();
  const [patientId, setPatientId] = useState("");
  const [documentType, setDocumentType] = useState<string>("referral_letter");
  const [urgent, setUrgent] = useState(false);
  const [files, setFiles] = useState<File[]>([]);
  const [errors, setErrors] = useState<Errors>(NO_ERRORS);
  const [dragging, setDragging] = useState(false);
  const uploads = useUploads(onUploaded);

  const addFiles = (list: FileList | null) => {
    // Copied now: FileList is live, and the input is reset before the state updater runs.
    const picked = list ? Array.from(list) : [];
    if (picked.length === 0) return;
    setFiles((prev) => [...prev, ...picked]);
    setErrors((e) => ({ ...e, files: [] }));
  };

  const onDrop = (ev: DragEvent<HTMLDivElement>) => {
    ev.preventDefault();
    setDragging(false);
    addFiles(ev.dataTransfer.files);
  };

  const onSubmit = (ev: FormEvent) => {
    ev.preventDefault();
    const next: Errors = {
      patientId: validatePatientId(patientId),
      files: validateFiles(files, maxBytes),
    };
    setErrors(next);
    if (next.patientId || next.files.length > 0) return;
    const fields = { patientId: patientId.trim(), documentType, priority: urgent ? "urgent" : "normal" } as const;
    uploads.start(files, fields);
    setFiles([]);
  };

  const pidError = `${uid}-pid-error`;
  const fileError = `${uid}-file-error`;
  return (
    <div className="upload">
      <form className="upload-form" onSubmit={onSubmit} noValidate>
        <div className="field">
          <label htmlFor={`${uid}-pid`}>Patient ID</label>
          <input
            id={`${uid}-pid`}
            name="patient_id"
            value={patientId}
            autoComplete="off"
            maxLength={80}
            aria-invalid={errors.patientId ? true : undefined}
            aria-describedby={errors.patientId ? pidError : undefined}
            onChange={(e) => setPatientId(e.target.value)}
          />
          {errors.patientId && (
            <p id={pidError} className="field__error" role="alert">
              {errors.patientId}
            </p>
          )}
        </div>
        <div className="field">
          <label htmlFor={`${uid}-type`}>Document type</label>
          <select id={`${uid}-type`} value={documentType} onChange={(e) => setDocumentType(e.target.value)}>
            {DOCUMENT_TYPES.map((d) => (
              <option key={d.value} value={d.value}>
                {d.label}
              </option>
            ))}
          </select>
        </div>
        <div className="field field--inline">
          <input id={`${uid}-urgent`} type="checkbox" checked={urgent} onChange={(e) => setUrgent(e.target.checked)} />
          <label htmlFor={`${uid}-urgent`}>Urgent (read before other documents)</label>
        </div>
        <div
          className={`dropzone${dragging ? " is-dragging" : ""}`}
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={onDrop}
          data-testid="dropzone"
        >
          <label htmlFor={`${uid}-files`}>Files (PNG, JPEG, TIFF or PDF, up to {formatBytes(maxBytes)} each)</label>
          <input
            id={`${uid}-files`}
            type="file"
            multiple
            accept={ACCEPT}
            aria-invalid={errors.files.length > 0 ? true : undefined}
            aria-describedby={errors.files.length > 0 ? fileError : undefined}
            onChange={(e) => {
              addFiles(e.target.files);
              e.target.value = ""; // choosing the same file again must fire change
            }}
          />
          <p className="muted">or drag and drop files here</p>
        </div>
        {files.length > 0 && (
          <ul className="chosen-files" aria-label="Chosen files">
            {files.map((f, i) => (
              <li key={`${f.name}-${i}`}>
                {f.name} <span className="muted">({formatBytes(f.size)})</span>
                <button
                  type="button"
                  className="btn btn--small btn--ghost"
                  aria-label={`Remove ${f.name}`}
                  onClick={() => setFiles((prev) => prev.filter((_, j) => j !== i))}
                >
                  Remove
                </button>
              </li>
            ))}
          </ul>
        )}
        {errors.files.length > 0 && (
          <ul id={fileError} className="field__error" role="alert">
            {errors.files.map((m) => (
              <li key={m}>{m}</li>
            ))}
          </ul>
        )}
        <button type="submit" className="btn btn--primary">
          Upload {files.length > 1 ? `${files.length} files` : ""}
        </button>
      </form>
      {uploads.items.length > 0 && (
        <ul className="upload-list" aria-label="Uploads">
          {uploads.items.map((item) => (
            <UploadRow key={item.key} item={item} onRetry={uploads.retry} onDismiss={uploads.dismiss} onView={onViewTask} />
          ))}
        </ul>
      )}
    </div>
  );
}
