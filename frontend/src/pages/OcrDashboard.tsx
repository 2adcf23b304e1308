import { useCallback, useRef, useState } from "react";
import type { Task } from "../api/types";
import { ActiveTasksList } from "../components/ActiveTasksList";
import { ConnectionBadge } from "../components/ConnectionBadge";
import { LiveAnnouncer } from "../components/LiveAnnouncer";
import { OcrProgressTracker } from "../components/OcrProgressTracker";
import { ResultViewer } from "../components/ResultViewer";
import { SessionBanner } from "../components/SessionBanner";
import { UploadForm } from "../components/UploadForm";
import { useOcrProgress } from "../live/useOcrProgress";

function SelectedTask({ taskId }: { taskId: string }) {
  // Shares the tracker's subscription and result fetch (both are reference-counted).
  const { result, task } = useOcrProgress(taskId);
  return (
    <>
      <OcrProgressTracker taskId={taskId} title={task ? task.filename : "Selected document"} />
      {result && (
        <ResultViewer key={taskId} result={result} nameParts={task ? [task.patient_id, task.filename] : []} />
      )}
    </>
  );
}

/** In the single-column (tablet) layout the detail sits below the list, out of sight. */
function revealOnNarrowScreens(el: HTMLElement | null): void {
  if (!el || typeof window.matchMedia !== "function") return;
  if (window.matchMedia("(max-width: 900px)").matches) el.scrollIntoView?.({ block: "start" });
}

export function OcrDashboard() {
  const [selected, setSelectedState] = useState<string | null>(null);
  const detailRef = useRef<HTMLDivElement>(null);
  const setSelected = useCallback((id: string) => {
    setSelectedState(id);
    requestAnimationFrame(() => revealOnNarrowScreens(detailRef.current));
  }, []);
  // A fresh upload is shown only when nothing else is, so reading is never interrupted.
  const onUploaded = useCallback((task: Task) => setSelectedState((cur) => cur ?? task.id), []);

  return (
    <div className="app">
      <header className="app-header">
        <h1>ocrlive</h1>
        <ConnectionBadge />
      </header>
      <SessionBanner />
      <LiveAnnouncer />
      <main className="layout">
        <div className="layout__col">
          <section className="card" aria-labelledby="upload-heading">
            <h2 id="upload-heading">Upload documents</h2>
            <UploadForm onUploaded={onUploaded} onViewTask={setSelected} />
          </section>
          <section className="card" aria-labelledby="tasks-heading">
            <h2 id="tasks-heading">Documents</h2>
            <ActiveTasksList onSelectTask={setSelected} selectedTaskId={selected} />
          </section>
        </div>
        <div className="layout__col layout__col--detail" ref={detailRef}>
          {selected ? (
            <SelectedTask taskId={selected} />
          ) : (
            <section className="card empty">
              <h2>No document selected</h2>
              <p className="muted">Upload a document or choose one from the list to follow its progress.</p>
            </section>
          )}
        </div>
      </main>
    </div>
  );
}
