import { useId } from "react";
import { DOCUMENT_TYPES } from "../../api/types";
import { STATUS_META } from "../../format";
import type { SortKey, StatusFilter, TaskFilters } from "./filterSort";

interface Props {
  filters: TaskFilters;
  sort: SortKey;
  onFilters: (f: TaskFilters) => void;
  onSort: (s: SortKey) => void;
}

const STATUS_OPTIONS: { value: StatusFilter; label: string }[] = [
  { value: "all", label: "All" },
  { value: "active", label: "Queued or reading" },
  ...(Object.keys(STATUS_META) as (keyof typeof STATUS_META)[]).map((s) => ({
    value: s,
    label: STATUS_META[s].label,
  })),
];

export function TaskFiltersBar({ filters, sort, onFilters, onSort }: Props) {
  const id = useId();
  return (
    <div className="filters" role="group" aria-label="Filter and sort tasks">
      <div className="field">
        <label htmlFor={`${id}-status`}>Status</label>
        <select
          id={`${id}-status`}
          value={filters.status}
          onChange={(e) => onFilters({ ...filters, status: e.target.value as StatusFilter })}
        >
          {STATUS_OPTIONS.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${id}-pid`}>Patient ID</label>
        <input
          id={`${id}-pid`}
          type="search"
          value={filters.patientId}
          onChange={(e) => onFilters({ ...filters, patientId: e.target.value })}
        />
      </div>
      <div className="field">
        <label htmlFor={`${id}-type`}>Document type</label>
        <select
          id={`${id}-type`}
          value={filters.documentType}
          onChange={(e) => onFilters({ ...filters, documentType: e.target.value })}
        >
          <option value="">All types</option>
          {DOCUMENT_TYPES.map((d) => (
            <option key={d.value} value={d.value}>
              {d.label}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${id}-sort`}>Sort by</label>
        <select id={`${id}-sort`} value={sort} onChange={(e) => onSort(e.target.value as SortKey)}>
          <option value="newest">Newest first</option>
          <option value="oldest">Oldest first</option>
          <option value="status">Status</option>
        </select>
      </div>
    </div>
  );
}
