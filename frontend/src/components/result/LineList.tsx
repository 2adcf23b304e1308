import { useEffect, useRef, type ReactNode } from "react";
import type { OcrLine } from "../../api/types";
import { isDoubtful } from "./confidence";

interface Props {
  lines: readonly OcrLine[];
  selected: number | null;
  onSelect: (index: number) => void;
  /** Shown in place under the selected line (the line editor), when given. */
  editor?: ReactNode;
}

function reviewNote(line: OcrLine): string | null {
  if (line.reviewed === "corrected") return "Corrected";
  if (line.reviewed === "confirmed") return "Confirmed";
  return null;
}

export function LineList({ lines, selected, onSelect, editor }: Props) {
  const listRef = useRef<HTMLOListElement>(null);
  useEffect(() => {
    if (selected === null) return;
    const el = listRef.current?.querySelector<HTMLElement>(`[data-line="${selected}"]`);
    el?.scrollIntoView?.({ block: "nearest" });
  }, [selected]);

  if (lines.length === 0) return <p className="muted">No text was found on this page.</p>;
  return (
    <ol className="line-list" ref={listRef} aria-label="Recognized lines">
      {lines.map((line, i) => {
        const low = isDoubtful(line) && !line.reviewed;
        const note = reviewNote(line);
        return (
          <li key={i}>
            <button
              type="button"
              data-line={i}
              className={`line${low ? " line--low" : ""}${note ? " line--reviewed" : ""}${i === selected ? " is-selected" : ""}`}
              aria-pressed={i === selected}
              onClick={() => onSelect(i)}
            >
              <span className="line__text">{line.text}</span>
              {(low || note) && " " /* keeps the accessible name readable: "text Low confidence" */}
              {low && (
                <span className="line__low">
                  <span aria-hidden="true">⚠ </span>Low confidence {Math.round(line.score * 100)}%
                </span>
              )}
              {note && <span className="line__reviewed">{note}</span>}
            </button>
            {i === selected && editor}
          </li>
        );
      })}
    </ol>
  );
}
