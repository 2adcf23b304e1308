import { describeError } from "../../api/errors";
import { formatBytes, pageText } from "../../format";
import { useLiveTask } from "../../live/hooks";
import { ProgressBar } from "../ProgressBar";
import { StatusBadge, progressTone } from "../StatusBadge";
import { isRetryable, type UploadItem } from "./useUploads";

interface Props {
  item: UploadItem;
  onRetry: (item: UploadItem) => void;
  onDismiss: (key: string) => void;
  onView?: (taskId: string) => void;
}

/** Once the bytes are in, the row follows the task's OCR progress instead. */
function OcrStage({ taskId, name, onView }: { taskId: string; name: string; onView?: (id: string) => void }) {
  const { task } = useLiveTask(taskId);
  if (!task) return <p className="muted">Uploaded, waiting for the server…</p>;
  return (
    <div className="upload-row__ocr">
      <StatusBadge status={task.status} />
      <ProgressBar
        value={task.progress}
        label={`Reading ${name}`}
        valueText={pageText(task)}
        tone={progressTone(task.status)}
      />
      <span className="muted">{pageText(task)}</span>
      {onView && (
        <button type="button" className="btn btn--small" onClick={() => onView(taskId)}>
          View
        </button>
      )}
    </div>
  );
}

export function UploadRow({ item, onRetry, onDismiss, onView }: Props) {
  const name = item.file.name;
  const pct = item.total > 0 ? (item.loaded / item.total) * 100 : 0;
  return (
    <li className={`upload-row upload-row--${item.state}`}>
      <div className="upload-row__head">
        <span className="upload-row__name">{name}</span>
        <span className="muted">
          {formatBytes(item.file.size)} · patient {item.fields.patientId}
        </span>
      </div>
      {item.state === "uploading" && (
        <div className="upload-row__ocr">
          <span className="muted">Uploading {Math.round(pct)}%</span>
          <ProgressBar value={pct} label={`Upload of ${name}`} />
        </div>
      )}
      {item.state === "uploaded" && item.taskId && (
        <OcrStage taskId={item.taskId} name={name} onView={onView} />
      )}
      {item.state === "error" && item.error && (
        <div className="upload-row__error" role="alert">
          <span aria-hidden="true">✕ </span>
          {describeError(item.error)}
          <div className="row-actions">
            {isRetryable(item) && (
              <button type="button" className="btn btn--small" onClick={() => onRetry(item)}>
                Retry upload
              </button>
            )}
            <button type="button" className="btn btn--small btn--ghost" onClick={() => onDismiss(item.key)}>
              Dismiss
            </button>
          </div>
        </div>
      )}
    </li>
  );
}
