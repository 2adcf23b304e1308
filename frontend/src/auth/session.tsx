// Who is signed in, for the whole page: the person, their role and permissions. Components
// ask `can("task.upload")` to decide what to offer; the server refuses anyway.
import { createContext, useContext, type ReactNode } from "react";
import type { SessionInfo } from "./api";

export interface SessionState {
  info: SessionInfo | null;
  can: (permission: string) => boolean;
  signOut: () => void;
  staySignedIn: () => void;
}

// Without a provider (component tests, the bare dashboard) everything is offered.
const OPEN: SessionState = { info: null, can: () => true, signOut: () => {}, staySignedIn: () => {} };
const SessionContext = createContext<SessionState>(OPEN);

export function SessionProvider({ value, children }: { value: SessionState; children: ReactNode }) {
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  return useContext(SessionContext);
}

export function sessionState(info: SessionInfo, signOut: () => void, staySignedIn: () => void): SessionState {
  const held = new Set(info.user.permissions);
  return { info, can: (p) => held.has(p), signOut, staySignedIn };
}
