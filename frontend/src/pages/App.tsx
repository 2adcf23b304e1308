// The signed-in page: a header with the person, their role, the pages their role may
// open, and sign-out. Pages stay mounted while hidden, so switching keeps their state.
import { useState } from "react";
import { useSession } from "../auth/session";
import { ConnectionBadge } from "../components/ConnectionBadge";
import { AuditPage } from "./AuditPage";
import { OcrDashboard } from "./OcrDashboard";
import { PeoplePage } from "./PeoplePage";
import { TokensPage } from "./TokensPage";

const PAGES = [
  { id: "documents", label: "Documents", permission: "task.read" },
  { id: "people", label: "People", permission: "people.manage" },
  { id: "tokens", label: "API tokens", permission: "tokens.own" },
  { id: "audit", label: "Audit log", permission: "audit.read" },
] as const;

export function UserMenu() {
  const { info, signOut } = useSession();
  if (!info) return null;
  return (
    <div className="user-menu">
      <span>
        Signed in as <strong>{info.user.username}</strong> <span className="tag">{info.user.role}</span>
      </span>
      <button type="button" className="btn" onClick={signOut}>
        Sign out
      </button>
    </div>
  );
}

export function App() {
  const { can } = useSession();
  const offered = PAGES.filter((p) => can(p.permission));
  const [page, setPage] = useState<string>(offered[0]?.id ?? "documents");
  return (
    <>
      <header className="app-header app">
        <h1>ocrlive</h1>
        <ConnectionBadge />
        <UserMenu />
      </header>
      <nav className="app-nav app" aria-label="Pages">
        {offered.map((p) => (
          <button key={p.id} type="button" className={`btn${page === p.id ? " btn--primary" : ""}`}
            aria-current={page === p.id ? "page" : undefined} onClick={() => setPage(p.id)}>
            {p.label}
          </button>
        ))}
      </nav>
      {can("task.read") && <div hidden={page !== "documents"}><OcrDashboard embedded /></div>}
      {page === "people" && <div className="app"><PeoplePage /></div>}
      {page === "tokens" && <div className="app"><TokensPage /></div>}
      {page === "audit" && <div className="app"><AuditPage /></div>}
    </>
  );
}
