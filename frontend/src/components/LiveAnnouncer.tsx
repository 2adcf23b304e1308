import { useEffect, useState } from "react";
import { describeTaskError } from "../api/errors";
import { useLive } from "../live/context";
import type { EventMessage } from "../live/protocol";

interface Announcement {
  key: number;
  text: string;
}

const KEEP = 3;

export function announcementFor(ev: EventMessage): string | null {
  const { task } = ev;
  const what = `${task.filename} for patient ${task.patient_id}`;
  switch (ev.event) {
    case "task.completed":
      return `Text ready: ${what}.`;
    case "task.failed":
      return `Reading failed: ${what}. ${task.error ? describeTaskError(task.error) : ""}`.trim();
    case "task.cancelled":
      return `Cancelled: ${what}.`;
    default:
      return null;
  }
}

/**
 * Screen-reader announcements of completions and failures. It listens to every event
 * rather than to store snapshots, so a task that fails and is requeued within one render
 * is still announced.
 */
export function LiveAnnouncer() {
  const { client } = useLive();
  const [items, setItems] = useState<Announcement[]>([]);

  useEffect(
    () =>
      client.onTaskEvent((ev) => {
        const text = announcementFor(ev);
        if (text) setItems((list) => [...list, { key: ev.seq, text }].slice(-KEEP));
      }),
    [client],
  );

  return (
    <div className="sr-only" aria-live="polite" aria-atomic="false" data-testid="announcer">
      {items.map((a) => (
        <p key={a.key}>{a.text}</p>
      ))}
    </div>
  );
}
