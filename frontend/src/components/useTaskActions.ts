// Cancel and retry over HTTP. The reply's task goes straight into the store, so the UI
// moves on without waiting for the matching event (the event then dedupes by version).
import { useCallback, useState } from "react";
import { describeError, toCoded } from "../api/errors";
import type { Task } from "../api/types";
import { useLive } from "../live/context";

export interface TaskActions {
  cancel: (taskId: string) => Promise<void>;
  retry: (taskId: string) => Promise<void>;
  busy: boolean;
  /** A sentence for the last failed action, or null. */
  error: string | null;
}

export function useTaskActions(): TaskActions {
  const { api, client } = useLive();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const act = useCallback(
    async (call: () => Promise<Task>) => {
      setBusy(true);
      setError(null);
      try {
        client.upsertTask(await call());
      } catch (err) {
        setError(describeError(toCoded(err)));
      } finally {
        setBusy(false);
      }
    },
    [client],
  );

  const cancel = useCallback((id: string) => act(() => api.cancel(id)), [act, api]);
  const retry = useCallback((id: string) => act(() => api.retry(id)), [act, api]);
  return { cancel, retry, busy, error };
}
