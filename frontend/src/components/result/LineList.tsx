import { useEffect, useRef } from "react";
import type { OcrLine } from "../../api/types";
import { LOW_CONFIDENCE } from "./confidence";

interface Props {
  lines: readonly OcrLine[];
  selected: number | null;
  onSelect: (index: number) => void;
}

export function LineList({ lines, selected, onSelect }: Props) {
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
        const low = line.score < LOW_CONFIDENCE;
        return (
          <li key={i}>
            <button
              type="button"
              data-line={i}
              className={`line${low ? " line--low" : ""}${i === selected ? " is-selected" : ""}`}
              aria-pressed={i === selected}
              onClick={() => onSelect(i)}
            >
              <span className="line__text">{line.text}</span>
              {low && " " /* keeps the accessible name readable: "text Low confidence" */}
              {low && (
                <span className="line__low">
                  <span aria-hidden="true">⚠ </span>Low confidence {Math.round(line.score * 100)}%
                </span>
              )}
            </button>
          </li>
        );
      })}
    </ol>
  );
}
