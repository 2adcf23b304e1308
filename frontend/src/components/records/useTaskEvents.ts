import { useEffect, useRef, useState } from "react";
import { useLive } from "../../live/context";
import { useTopic } from "../../live/hooks";
import type { EventMessage, TaskEventName } from "../../live/protocol";

/**
 * Calls `listener` for every live event of the given kinds on any task (latest listener,
 * no re-subscribe). Holds the shared `tasks` topic, which the client reference-counts.
 */
export function useTaskEvents(kinds: readonly TaskEventName[], listener: (ev: EventMessage) => void): void {
  const { client } = useLive();
  useTopic("tasks");
  const latest = useRef(listener);
  useEffect(() => {
    latest.current = listener;
  });
  const key = kinds.join(",");
  useEffect(
    () =>
      client.onTaskEvent((ev) => {
        if (key.split(",").includes(ev.event)) latest.current(ev);
      }),
    [client, key],
  );
}

/** `value`, once it has stopped changing for `ms` (search as you type). */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

/** Typing "penic" finds "penicillin": the word being typed is a prefix until a space ends it. */
export function asTyped(q: string): string {
  const trimmed = q.trimEnd();
  if (trimmed !== q || trimmed === "") return trimmed;
  const quotes = (trimmed.match(/"/g) ?? []).length;
  if (quotes % 2 === 1) return trimmed; // inside an open phrase
  const last = trimmed.split(/\s+/).pop() ?? "";
  if (last.endsWith("*") || last.endsWith('"') || last.startsWith("-") || last.length < 2) return trimmed;
  return `${trimmed}*`;
}

export function shortDate(iso: string): string {
  return iso.slice(0, 10);
}
