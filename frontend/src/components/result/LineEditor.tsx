import { useId, useRef, useState, type KeyboardEvent } from "react";
import type { LineEditRequest, OcrLine, OcrPage } from "../../api/types";

interface Props {
  page: OcrPage;
  index: number;
  line: OcrLine;
  /** Resolves when stored; rejects with a message to show. */
  onSubmit: (body: LineEditRequest) => Promise<void>;
  onClose: () => void;
}

const PAD = 12; // page pixels of image around the line's box in the crop

function cropBox(line: OcrLine, page: OcrPage): string {
  const xs = line.box.map(([x]) => x);
  const ys = line.box.map(([, y]) => y);
  const left = Math.max(0, Math.min(...xs) - PAD);
  const top = Math.max(0, Math.min(...ys) - PAD);
  const right = Math.min(page.width, Math.max(...xs) + PAD);
  const bottom = Math.min(page.height, Math.max(...ys) + PAD);
  return `${left} ${top} ${Math.max(1, right - left)} ${Math.max(1, bottom - top)}`;
}

/** The line's image beside its text: correct it, or confirm what was read. */
export function LineEditor({ page, index, line, onSubmit, onClose }: Props) {
  const id = useId();
  const [text, setText] = useState(line.text);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const input = useRef<HTMLInputElement>(null);

  const submit = async (body: LineEditRequest) => {
    setBusy(true);
    setError("");
    try {
      await onSubmit(body);
    } catch (err) {
      setError((err as { message?: string }).message ?? "The change was not saved");
      setBusy(false);
      input.current?.focus();
    }
  };
  const save = () => void submit({ action: "correct", text });
  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "Enter") {
      e.preventDefault();
      save();
    } else if (e.key === "Escape") {
      e.preventDefault();
      onClose();
    }
  };

  return (
    <div className="line-editor" role="group" aria-labelledby={`${id}-title`}>
      <p id={`${id}-title`} className="line-editor__title">
        Line {index + 1} of page {page.number}, confidence {Math.round(line.score * 100)}%
      </p>
      <svg
        className="line-editor__crop"
        viewBox={cropBox(line, page)}
        preserveAspectRatio="xMinYMid meet"
        role="img"
        aria-label={`Image of line ${index + 1}`}
      >
        <image href={page.image_url} width={page.width} height={page.height} />
      </svg>
      <label htmlFor={`${id}-text`}>Text of the line</label>
      <input
        id={`${id}-text`}
        ref={input}
        autoFocus
        value={text}
        disabled={busy}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
        aria-describedby={line.ocr_text && line.ocr_text !== line.text ? `${id}-ocr` : undefined}
      />
      {line.ocr_text && line.ocr_text !== line.text && (
        <p id={`${id}-ocr`} className="muted">
          Read by OCR: “{line.ocr_text}”
        </p>
      )}
      {error && (
        <p role="alert" className="field__error">
          {error}
        </p>
      )}
      <div className="row-actions">
        <button type="button" className="btn btn--primary btn--small" disabled={busy || !text.trim()} onClick={save}>
          Save correction
        </button>
        <button type="button" className="btn btn--small" disabled={busy} onClick={() => void submit({ action: "confirm" })}>
          Confirm as read
        </button>
        <button type="button" className="btn btn--small btn--ghost" disabled={busy} onClick={onClose}>
          Cancel
        </button>
      </div>
    </div>
  );
}
