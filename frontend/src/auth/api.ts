// Sign-in and the admin pages' calls (docs/protocol.md). Framework-free, like api/http.ts;
// POSTs go same-origin, so the browser's Origin / Sec-Fetch-Site satisfy the server's check.
import { readApiError } from "../api/http";
import { ApiError } from "../api/errors";

export interface SessionUser {
  id: number;
  username: string;
  role: string;
  via: string;
  permissions: string[];
  has_password?: boolean;
}

export interface SessionInfo {
  user: SessionUser;
  idle_expires_at?: string;
  expires_at?: string;
  idle_timeout?: number;
}

export interface AuthConfig {
  password: boolean;
  oidc: { name: string; url: string } | null;
}

export interface Person {
  id: number;
  username: string;
  role: string;
  disabled: boolean;
  source: string;
  has_password: boolean;
  created_at: string;
}

export interface TokenInfo {
  id: number;
  name: string;
  prefix: string;
  role: string;
  owner: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface AuditEntry {
  id: number;
  at: string;
  username: string;
  role: string;
  action: string;
  outcome: string;
  task_id: string | null;
  patient_id: string | null;
  address: string;
  detail: string;
}

export const ROLES = ["admin", "clerk", "clinician", "auditor"] as const;

export async function call<T>(path: string, method = "GET", body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError("network_error", String(err), 0);
  }
  if (!res.ok) throw await readApiError(res);
  return (await res.json()) as T;
}

export const auth = {
  config: () => call<AuthConfig>("/api/auth"),
  session: () => call<SessionInfo>("/api/session"),
  refresh: () => call<SessionInfo>("/api/session/refresh", "POST"),
  login: (username: string, password: string) => call<SessionInfo>("/api/login", "POST", { username, password }),
  logout: () => call<{ ok: boolean }>("/api/logout", "POST"),
  setPassword: (password: string, current?: string) =>
    call<{ ok: boolean }>("/api/me/password", "PUT", current ? { password, current } : { password }),
};

export const admin = {
  people: async () => (await call<{ users: Person[] }>("/api/users")).users,
  addPerson: (username: string, role: string) =>
    call<{ user: Person; link?: string }>("/api/users", "POST", { username, role }),
  changePerson: (username: string, change: { role?: string; disabled?: boolean }) =>
    call<{ user: Person }>(`/api/users/${encodeURIComponent(username)}`, "PATCH", change),
  resetLink: async (username: string) =>
    (await call<{ link: string }>(`/api/users/${encodeURIComponent(username)}/link`, "POST")).link,
  tokens: async (all: boolean) => (await call<{ tokens: TokenInfo[] }>(`/api/tokens${all ? "?all=1" : ""}`)).tokens,
  createToken: (name: string, role: string) =>
    call<{ token: string; info: TokenInfo }>("/api/tokens", "POST", { name, role }),
  revokeToken: (id: number) => call<{ info: TokenInfo }>(`/api/tokens/${id}`, "DELETE"),
  audit: async (query: URLSearchParams) =>
    (await call<{ entries: AuditEntry[] }>(`/api/audit?${query.toString()}`)).entries,
};
