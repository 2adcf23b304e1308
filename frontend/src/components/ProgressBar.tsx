import { percent } from "../format";

interface Props {
  /** 0-100; rounded for aria-valuenow. */
  value: number;
  label: string;
  /** Spoken instead of the bare number, e.g. "Page 2 of 5, recognizing text". */
  valueText?: string;
  tone?: "active" | "done" | "failed" | "muted";
  className?: string;
}

export function ProgressBar({ value, label, valueText, tone = "active", className = "" }: Props) {
  const now = percent(value);
  return (
    <div
      role="progressbar"
      aria-valuenow={now}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-label={label}
      aria-valuetext={valueText ? `${now}%, ${valueText}` : undefined}
      className={`progress progress--${tone} ${className}`}
    >
      <div className="progress__fill" style={{ width: `${now}%` }} />
    </div>
  );
}
