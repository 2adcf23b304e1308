import { useId, useState } from "react";
import type { OcrResult } from "../api/types";
import { copyText, downloadBlob, safeName } from "./result/exporting";
import { LineList } from "./result/LineList";
import { PageOverlay } from "./result/PageOverlay";

interface Props {
  result: OcrResult;
  /** Used in download names, e.g. the patient ID and original filename. */
  nameParts?: string[];
}

export function ResultViewer({ result, nameParts = [] }: Props) {
  const headingId = useId();
  const [pageIndex, setPageIndex] = useState(0);
  const [selected, setSelected] = useState<number | null>(null);
  const [notice, setNotice] = useState("");
  const page = result.pages[Math.min(pageIndex, result.pages.length - 1)];
  const base = safeName("ocr", ...nameParts, nameParts.length ? "" : result.task_id);

  const showPage = (i: number) => {
    setPageIndex(i);
    setSelected(null);
  };
  const onCopy = async () => {
    const ok = await copyText(result.text);
    setNotice(ok ? "Text copied." : "Could not copy; select the text and copy it by hand.");
  };

  return (
    <section className="card viewer" aria-labelledby={headingId}>
      <div className="viewer__head">
        <h2 id={headingId}>Recognized text</h2>
        <div className="row-actions">
          <button type="button" className="btn" onClick={onCopy}>
            Copy text
          </button>
          <button type="button" className="btn" onClick={() => downloadBlob(`${base}.txt`, result.text, "text/plain")}>
            Download .txt
          </button>
          <button
            type="button"
            className="btn"
            onClick={() => downloadBlob(`${base}.json`, JSON.stringify(result, null, 2), "application/json")}
          >
            Download .json
          </button>
        </div>
      </div>
      <p role="status" className="muted viewer__notice">
        {notice}
      </p>
      {result.pages.length > 1 && (
        <div className="page-tabs" role="group" aria-label="Pages">
          {result.pages.map((p, i) => (
            <button key={p.number} type="button" className="btn btn--small" aria-pressed={p === page} onClick={() => showPage(i)}>
              Page {p.number}
            </button>
          ))}
        </div>
      )}
      {page ? (
        <div className="viewer__body">
          <PageOverlay page={page} selected={selected} onSelect={setSelected} />
          <LineList lines={page.lines} selected={selected} onSelect={setSelected} />
        </div>
      ) : (
        <p className="muted">The document has no pages.</p>
      )}
    </section>
  );
}
