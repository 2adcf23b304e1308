// Upload queue state. Each file keeps one Idempotency-Key for its attempt, so "Retry
// upload" after a dropped connection cannot create a second task for the same document.
import { useCallback, useEffect, useRef, useState } from "react";
import { toCoded, type ApiError } from "../../api/errors";
import type { Priority, Task } from "../../api/types";
import { newIdempotencyKey } from "../../api/upload";
import { useLive } from "../../live/context";
import { useConnection } from "../../live/hooks";

export interface UploadFields {
  patientId: string;
  documentType: string;
  priority: Priority;
}

export interface UploadItem {
  key: string;
  file: File;
  fields: UploadFields;
  idempotencyKey: string;
  state: "uploading" | "uploaded" | "error";
  loaded: number;
  total: number;
  taskId: string | null;
  error: ApiError | null;
}

/** Codes worth retrying with the same key; others need a different file or form. */
const RETRYABLE = new Set([
  "network_error", "queue_full", "rate_limited", "internal_error", "unauthorized", "session_expired",
]);
const NEEDS_SIGN_IN = new Set(["unauthorized", "session_expired"]);

export function isRetryable(item: UploadItem): boolean {
  return item.state === "error" && item.error !== null && RETRYABLE.has(item.error.code);
}

export function useUploads(onUploaded?: (task: Task) => void) {
  const { upload, client } = useLive();
  const [items, setItems] = useState<UploadItem[]>([]);
  const onUploadedRef = useRef(onUploaded);
  useEffect(() => {
    onUploadedRef.current = onUploaded;
  });

  const patch = useCallback((key: string, p: Partial<UploadItem>) => {
    setItems((list) => list.map((it) => (it.key === key ? { ...it, ...p } : it)));
  }, []);

  const run = useCallback(
    (item: UploadItem) => {
      const { fields } = item;
      upload({
        file: item.file,
        patientId: fields.patientId,
        documentType: fields.documentType,
        priority: fields.priority,
        idempotencyKey: item.idempotencyKey,
        onProgress: (loaded, total) => patch(item.key, { loaded, total }),
      }).then(
        ({ task }) => {
          client.upsertTask(task);
          patch(item.key, { state: "uploaded", taskId: task.id, loaded: item.total });
          onUploadedRef.current?.(task);
        },
        (err: unknown) => patch(item.key, { state: "error", error: toCoded(err) }),
      );
    },
    [upload, client, patch],
  );

  const start = useCallback(
    (files: readonly File[], fields: UploadFields) => {
      const fresh = files.map((file) => newItem(file, fields));
      setItems((list) => [...fresh, ...list]);
      fresh.forEach(run);
    },
    [run],
  );

  const retry = useCallback(
    (item: UploadItem) => {
      const again = { ...item, state: "uploading" as const, error: null, loaded: 0 };
      patch(item.key, again);
      run(again);
    },
    [patch, run],
  );

  // Uploads refused because the session ended start again, with the same key, once the
  // person has signed in again (the connection leaves `unauthorized`).
  const { state } = useConnection();
  const wasSignedOut = useRef(false);
  const itemsRef = useRef(items);
  itemsRef.current = items;
  useEffect(() => {
    if (state === "unauthorized") {
      wasSignedOut.current = true;
    } else if (wasSignedOut.current && state === "open") {
      wasSignedOut.current = false;
      itemsRef.current.filter((it) => it.state === "error" && NEEDS_SIGN_IN.has(it.error?.code ?? "")).forEach(retry);
    }
  }, [state, retry]);

  const dismiss = useCallback((key: string) => {
    setItems((list) => list.filter((it) => it.key !== key));
  }, []);

  return { items, start, retry, dismiss };
}

function newItem(file: File, fields: UploadFields): UploadItem {
  return {
    key: newIdempotencyKey(),
    file,
    fields,
    idempotencyKey: newIdempotencyKey(),
    state: "uploading",
    loaded: 0,
    total: file.size,
    taskId: null,
    error: null,
  };
}
