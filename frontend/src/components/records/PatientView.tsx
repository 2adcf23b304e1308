import { useCallback, useEffect, useId, useState } from "react";
import { documentTypeLabel, type PatientDocument } from "../../api/types";
import { useLive } from "../../live/context";
import { downloadBlob, safeName } from "../result/exporting";
import { shortDate, useTaskEvents } from "./useTaskEvents";

interface Props {
  patientId: string;
  onOpen: (taskId: string, page: number) => void;
  onClose: () => void;
}

/** Every document of one patient, newest first; a document that finishes appears live. */
export function PatientView({ patientId, onOpen, onClose }: Props) {
  const { api } = useLive();
  const headingId = useId();
  const [docs, setDocs] = useState<PatientDocument[] | null>(null);
  const [notice, setNotice] = useState("");
  const [format, setFormat] = useState<"pdf" | "txt" | "json">("pdf");

  const load = useCallback(() => {
    api.patientDocuments(patientId).then(
      (res) => setDocs(res.documents),
      (err: { message?: string }) => setNotice(err.message ?? "Could not load the documents"),
    );
  }, [api, patientId]);
  useEffect(() => {
    setDocs(null);
    setNotice("");
    load();
  }, [load]);

  useTaskEvents(["task.completed", "task.corrected", "task.created"], (ev) => {
    if (ev.task.patient_id !== patientId) return;
    load();
    if (ev.event === "task.completed") setNotice(`New text for ${patientId}: ${ev.task.filename}.`);
  });

  const withText = (docs ?? []).filter((d) => d.revision > 0).map((d) => d.task.id);
  const exportAll = () => {
    setNotice(`Preparing ${withText.length} documents…`);
    api.exportZip(withText, format).then(
      (zip) => {
        downloadBlob(`${safeName("ocr", patientId, format)}.zip`, zip, "application/zip");
        setNotice(`Downloaded ${withText.length} documents as a ZIP.`);
      },
      (err: { message?: string }) => setNotice(err.message ?? "The export failed"),
    );
  };

  return (
    <section className="card patient" aria-labelledby={headingId}>
      <div className="viewer__head">
        <h2 id={headingId}>Patient {patientId}</h2>
        <button type="button" className="btn btn--small btn--ghost" onClick={onClose}>
          Close patient view
        </button>
      </div>
      {withText.length > 0 && (
        <div className="row-actions">
          <label>
            Format{" "}
            <select value={format} onChange={(e) => setFormat(e.target.value as "pdf" | "txt" | "json")}>
              <option value="pdf">Searchable PDF</option>
              <option value="txt">Text</option>
              <option value="json">JSON</option>
            </select>
          </label>
          <button type="button" className="btn btn--small" onClick={exportAll}>
            Download all as ZIP
          </button>
        </div>
      )}
      <p role="status" className="muted">
        {notice}
      </p>
      {docs === null ? (
        <p className="muted">Loading…</p>
      ) : docs.length === 0 ? (
        <p className="muted">No documents for this patient.</p>
      ) : (
        <ol className="hit-list" aria-label={`Documents of patient ${patientId}`}>
          {docs.map((doc) => (
            <li key={doc.task.id} className="hit">
              <button type="button" className="hit__open" onClick={() => onOpen(doc.task.id, 1)}>
                <span className="hit__title">{doc.task.filename}</span>
                <span className="hit__meta">
                  {documentTypeLabel(doc.task.document_type)} · {shortDate(doc.task.created_at)} ·{" "}
                  <span className={`status status--${doc.task.status}`}>{doc.task.status}</span>
                  {doc.pending_review > 0 && ` · ${doc.pending_review} lines to review`}
                </span>
                {doc.first_lines.length > 0 && <span className="snippet">{doc.first_lines.join(" / ")}</span>}
              </button>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
