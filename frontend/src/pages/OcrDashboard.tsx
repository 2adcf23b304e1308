import { useCallback, useEffect, useRef, useState } from "react";
import type { LineEditRequest, OcrResult, RerunSettings, Task } from "../api/types";
import { ActiveTasksList } from "../components/ActiveTasksList";
import { ConnectionBadge } from "../components/ConnectionBadge";
import { LiveAnnouncer } from "../components/LiveAnnouncer";
import { OcrProgressTracker } from "../components/OcrProgressTracker";
import { ResultViewer } from "../components/ResultViewer";
import { RerunPanel } from "../components/result/RerunPanel";
import { RevisionList } from "../components/result/RevisionList";
import { SessionBanner } from "../components/SessionBanner";
import { PatientView } from "../components/records/PatientView";
import { ReviewQueue } from "../components/records/ReviewQueue";
import { SearchPanel } from "../components/records/SearchPanel";
import { UploadForm } from "../components/UploadForm";
import { useSession } from "../auth/session";
import { useLive } from "../live/context";
import { useOcrProgress } from "../live/useOcrProgress";

interface Selection {
  taskId: string;
  page: number;
  /** Opening the same hit again re-mounts the viewer on its page. */
  nonce: number;
}

function SelectedTask({ selection, onPatient }: { selection: Selection; onPatient: (id: string) => void }) {
  const { taskId, page, nonce } = selection;
  // Shares the tracker's subscription and result fetch (both are reference-counted).
  const { result: completedResult, task } = useOcrProgress(taskId);
  const { api, client, results } = useLive();
  const { can } = useSession();
  // A document being read again keeps its current revision on screen (as /result serves
  // it) until the new one is stored; only a completed one can be corrected.
  const [lastResult, setLastResult] = useState<OcrResult | null>(null);
  useEffect(() => {
    if (completedResult) setLastResult(completedResult);
  }, [completedResult]);
  const result = completedResult ?? (lastResult?.task_id === taskId ? lastResult : null);
  const completed = task?.status === "completed";
  const onEditLine = useCallback(
    async (pageNumber: number, line: number, body: LineEditRequest) => {
      const res = await api.editLine(taskId, pageNumber, line, body);
      client.upsertTask(res.task);
      results.refresh(taskId);
      return res.revision;
    },
    [api, client, results, taskId],
  );
  const onRerun = useCallback(
    async (settings: RerunSettings) => {
      const queued = await api.rerun(taskId, settings);
      client.upsertTask(queued);
      return queued;
    },
    [api, client, taskId],
  );
  return (
    <>
      <OcrProgressTracker taskId={taskId} title={task ? task.filename : "Selected document"} />
      {task && (
        <button type="button" className="btn btn--small btn--ghost" onClick={() => onPatient(task.patient_id)}>
          All documents of patient {task.patient_id}
        </button>
      )}
      {result && (
        <ResultViewer
          key={`${taskId}:${page}:${nonce}`}
          result={result}
          initialPage={page}
          nameParts={task ? [task.patient_id, task.filename] : []}
          onEditLine={can("result.correct") && completed ? onEditLine : undefined}
        />
      )}
      {result && (
        <section className="card" aria-label="Readings of this document">
          {can("task.retry") && (
            <RerunPanel completed={completed} revision={result.revision} onRerun={onRerun} />
          )}
          <RevisionList
            taskId={taskId}
            current={result.revision}
            settings={result.engine.settings as object | undefined}
          />
        </section>
      )}
    </>
  );
}

/** In the single-column (tablet) layout the detail sits below the list, out of sight. */
function revealOnNarrowScreens(el: HTMLElement | null): void {
  if (!el || typeof window.matchMedia !== "function") return;
  if (window.matchMedia("(max-width: 900px)").matches) el.scrollIntoView?.({ block: "start" });
}

export function OcrDashboard({ embedded = false }: { embedded?: boolean }) {
  const { can } = useSession();
  const [selected, setSelectedState] = useState<Selection | null>(null);
  const [patient, setPatient] = useState<string | null>(null);
  const detailRef = useRef<HTMLDivElement>(null);
  const open = useCallback((id: string, page = 1) => {
    setSelectedState((cur) => ({ taskId: id, page, nonce: (cur?.nonce ?? 0) + 1 }));
    requestAnimationFrame(() => revealOnNarrowScreens(detailRef.current));
  }, []);
  const setSelected = useCallback((id: string) => open(id, 1), [open]);
  // A fresh upload is shown only when nothing else is, so reading is never interrupted.
  const onUploaded = useCallback(
    (task: Task) => setSelectedState((cur) => cur ?? { taskId: task.id, page: 1, nonce: 0 }),
    [],
  );

  return (
    <div className="app">
      {!embedded && (
        <header className="app-header">
          <h1>ocrlive</h1>
          <ConnectionBadge />
        </header>
      )}
      {!embedded && <SessionBanner />}
      <LiveAnnouncer />
      <main className="layout">
        <div className="layout__col">
          {can("task.upload") && (
            <section className="card" aria-labelledby="upload-heading">
              <h2 id="upload-heading">Upload documents</h2>
              <UploadForm onUploaded={onUploaded} onViewTask={setSelected} />
            </section>
          )}
          {can("task.search") && (
            <section className="card" aria-labelledby="search-heading">
              <h2 id="search-heading">Search</h2>
              <SearchPanel onOpen={open} onPatient={setPatient} />
            </section>
          )}
          {can("result.correct") && (
            <section className="card" aria-labelledby="review-heading">
              <h2 id="review-heading">Review queue</h2>
              <ReviewQueue onOpen={open} />
            </section>
          )}
          <section className="card" aria-labelledby="tasks-heading">
            <h2 id="tasks-heading">Documents</h2>
            <ActiveTasksList onSelectTask={setSelected} selectedTaskId={selected?.taskId ?? null} />
          </section>
        </div>
        <div className="layout__col layout__col--detail" ref={detailRef}>
          {patient && <PatientView patientId={patient} onOpen={open} onClose={() => setPatient(null)} />}
          {selected ? (
            <SelectedTask selection={selected} onPatient={setPatient} />
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
