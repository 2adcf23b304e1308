import { useId, useState } from "react";
import type { LineEditRequest, OcrResult } from "../api/types";
import { isDoubtful } from "./result/confidence";
import { useSession } from "../auth/session";
import { copyText, downloadBlob, safeName } from "./result/exporting";
import { LineEditor } from "./result/LineEditor";
import { LineList } from "./result/LineList";
import { PageOverlay } from "./result/PageOverlay";

interface Props {
  result: OcrResult;
  /** Used in download names, e.g. the patient ID and original filename. */
  nameParts?: string[];
  /** 1-based page shown first (a search hit's page). */
  initialPage?: number;
  /** Given when the person may correct lines: selecting a line opens its editor. */
  onEditLine?: (page: number, line: number, body: LineEditRequest) => Promise<number>;
}

/** The next doubtful line nobody reviewed, after (page, line), wrapping around. */
function nextToReview(result: OcrResult, pageIndex: number, line: number | null): [number, number] | null {
  const spots = result.pages.flatMap((p, pi) =>
    p.lines.map((ln, li) => [pi, li, isDoubtful(ln) && !ln.reviewed] as const),
  );
  const todo = spots.filter(([, , open]) => open);
  const after = todo.find(([pi, li]) => pi > pageIndex || (pi === pageIndex && li > (line ?? -1)));
  const found = after ?? todo[0];
  return found ? [found[0], found[1]] : null;
}

export function ResultViewer({ result, nameParts = [], initialPage = 1, onEditLine }: Props) {
  const { can } = useSession();
  const headingId = useId();
  const [pageIndex, setPageIndex] = useState(() =>
    Math.max(0, result.pages.findIndex((p) => p.number === initialPage)),
  );
  const [selected, setSelected] = useState<number | null>(null);
  const [editing, setEditing] = useState(false);
  // The revision on screen when the editor opened: a change made meanwhile by someone
  // else is then refused (revision_conflict) rather than silently overwritten.
  const [baseRevision, setBaseRevision] = useState<number | undefined>(undefined);
  const [notice, setNotice] = useState("");
  const page = result.pages[Math.min(pageIndex, result.pages.length - 1)];
  const base = safeName("ocr", ...nameParts, nameParts.length ? "" : result.task_id);
  const pending = result.pending_review ?? 0;

  const showPage = (i: number) => {
    setPageIndex(i);
    setSelected(null);
    setEditing(false);
  };
  const select = (i: number) => {
    setSelected(i);
    setEditing(Boolean(onEditLine));
    setBaseRevision(result.revision);
  };
  const closeEditor = () => {
    setEditing(false);
    const line = selected;
    requestAnimationFrame(() => document.querySelector<HTMLElement>(`button.line[data-line="${line}"]`)?.focus());
  };
  const onCopy = async () => {
    const ok = await copyText(result.text);
    setNotice(ok ? "Text copied." : "Could not copy; select the text and copy it by hand.");
  };
  const goToNext = () => {
    const next = nextToReview(result, pageIndex, selected);
    if (!next) {
      setNotice("No lines left to review.");
      return;
    }
    setPageIndex(next[0]);
    select(next[1]);
  };
  const submit = async (body: LineEditRequest) => {
    if (!onEditLine || !page || selected === null) return;
    const revision = await onEditLine(page.number, selected, { ...body, revision: baseRevision });
    const what = body.action === "correct" ? "corrected" : "confirmed";
    setNotice(`Line ${selected + 1} of page ${page.number} ${what}; revision ${revision}.`);
    closeEditor();
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
          {can("task.export") && (
            <a className="btn" href={`/api/tasks/${encodeURIComponent(result.task_id)}/export.pdf`} download>
              Searchable PDF
            </a>
          )}
        </div>
      </div>
      <p className="muted viewer__meta">
        {result.revision !== undefined && `Revision ${result.revision}. `}
        {pending > 0 ? `${pending} doubtful ${pending === 1 ? "line" : "lines"} to review.` : ""}
        {pending > 0 && onEditLine && (
          <button type="button" className="btn btn--small" onClick={goToNext}>
            Next line to review
          </button>
        )}
      </p>
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
      {page && page.rotation ? (
        <p className="muted viewer__turned">
          This page arrived turned; it is shown the right way up (turned {page.rotation}° clockwise).
        </p>
      ) : null}
      {page ? (
        <div className="viewer__body">
          <PageOverlay page={page} selected={selected} onSelect={select} />
          <LineList
            lines={page.lines}
            selected={selected}
            onSelect={select}
            editor={
              editing && selected !== null && page.lines[selected] ? (
                <LineEditor
                  key={`${page.number}:${selected}`}
                  page={page}
                  index={selected}
                  line={page.lines[selected]}
                  onSubmit={submit}
                  onClose={closeEditor}
                />
              ) : undefined
            }
          />
        </div>
      ) : (
        <p className="muted">The document has no pages.</p>
      )}
    </section>
  );
}
