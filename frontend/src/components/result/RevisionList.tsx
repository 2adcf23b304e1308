import { useEffect, useId, useRef, useState } from "react";
import type { ReplacedRevision } from "../../api/types";
import { useLive } from "../../live/context";
import { describeSettings } from "./rerunSettings";

interface Props {
  taskId: string;
  /** The revision on screen; a new one (a re-run stored, a correction) lists them again. */
  current: number | undefined;
  /** Its engine settings (the result's engine.settings). */
  settings: object | undefined;
}

function when(iso: string): string {
  return iso.slice(0, 16).replace("T", " ");
}

/** The document's readings: the current one, and every one a re-run replaced (kept). */
export function RevisionList({ taskId, current, settings }: Props) {
  const { api } = useLive();
  const headingId = useId();
  const [replaced, setReplaced] = useState<ReplacedRevision[] | null>(null);
  const [notice, setNotice] = useState("");
  const seen = useRef<{ taskId: string; count: number } | null>(null);

  useEffect(() => {
    let live = true;
    api.revisions(taskId).then(
      (res) => {
        if (!live) return;
        const before = seen.current?.taskId === taskId ? seen.current.count : null;
        seen.current = { taskId, count: res.replaced.length };
        setReplaced(res.replaced);
        const last = res.replaced[res.replaced.length - 1];
        if (before !== null && res.replaced.length > before && last) {
          setNotice(`Re-run stored: revision ${res.revision} is shown; revision ${last.revision} is kept below.`);
        }
      },
      (err: { message?: string }) => live && setNotice(err.message ?? "Could not load the revisions"),
    );
    return () => {
      live = false;
    };
  }, [api, taskId, current]);

  return (
    <section className="revisions" aria-labelledby={headingId}>
      <h3 id={headingId}>Revisions</h3>
      <p role="status" className="muted">
        {notice}
      </p>
      <ul className="revision-list" aria-label="Revisions of this document">
        {current !== undefined && (
          <li aria-current="true">
            <strong>Revision {current} (shown)</strong>: read with {describeSettings(settings)}
          </li>
        )}
        {[...(replaced ?? [])].reverse().map((r) => (
          <li key={r.revision}>
            Revision {r.revision}: read with{" "}
            {describeSettings(r.engine.settings as object | undefined)}, replaced {when(r.replaced_at)}{" "}
            <a href={`/api/tasks/${encodeURIComponent(taskId)}/revisions/${r.revision}`} target="_blank" rel="noreferrer">
              Open revision {r.revision} as JSON
            </a>
          </li>
        ))}
      </ul>
    </section>
  );
}
