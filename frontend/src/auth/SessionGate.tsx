// The page's sign-in state. Signed out: the sign-in page. Signed in: the app, and when
// the session ends (HTTP 401, socket close 4001, idle timeout) a sign-in dialog over it,
// so that the page keeps its state and uploads waiting on the session resume.
import { useCallback, useEffect, useMemo, useState, type ReactNode } from "react";
import { useConnection } from "../live/hooks";
import { useLive } from "../live/context";
import { auth, type SessionInfo } from "./api";
import { IdleWarning } from "./IdleWarning";
import { LoginForm, SetPasswordForm } from "./LoginForm";
import { SessionProvider, sessionState } from "./session";

type Phase = { kind: "loading" } | { kind: "signed-out" } | { kind: "signed-in"; info: SessionInfo };

function linkProblem(): string | undefined {
  const q = new URLSearchParams(window.location.search);
  if (q.get("link") === "invalid") return "That sign-in link was already used or has expired. Ask an administrator for a new one.";
  if (q.get("sso") === "failed") return "Single sign-on did not let you in. Your account may have no role in ocrlive yet.";
  return undefined;
}

function Shell({ children }: { children: ReactNode }) {
  return (
    <main className="login-page">
      <h1>ocrlive</h1>
      {children}
    </main>
  );
}

export function SessionGate({ children }: { children: ReactNode }) {
  const [phase, setPhase] = useState<Phase>({ kind: "loading" });
  const { client } = useLive();
  const connection = useConnection();

  const load = useCallback(() => {
    auth.session().then(
      (info) => setPhase({ kind: "signed-in", info }),
      () => setPhase({ kind: "signed-out" }),
    );
  }, []);
  useEffect(load, [load]);

  const signedIn = useCallback(
    (info: SessionInfo) => {
      setPhase({ kind: "signed-in", info });
      client.reconnect(); // leaves `unauthorized`; subscriptions resume with `since`
    },
    [client],
  );
  const signOut = useCallback(() => {
    auth.logout().finally(() => window.location.assign("/"));
  }, []);
  const staySignedIn = useCallback(() => {
    auth.refresh().then((info) => setPhase({ kind: "signed-in", info }), () => client.reportUnauthorized());
  }, [client]);

  const value = useMemo(
    () => (phase.kind === "signed-in" ? sessionState(phase.info, signOut, staySignedIn) : null),
    [phase, signOut, staySignedIn],
  );

  if (phase.kind === "loading") return <Shell><p className="muted">Loading…</p></Shell>;
  if (phase.kind === "signed-out" || !value) {
    return (
      <Shell>
        <LoginForm onSignedIn={signedIn} reason={linkProblem()} />
      </Shell>
    );
  }
  if (phase.info.user.has_password === false) {
    return (
      <Shell>
        <p>Welcome, {phase.info.user.username}.</p>
        <SetPasswordForm onDone={load} />
      </Shell>
    );
  }
  const ended = connection.state === "unauthorized";
  return (
    <SessionProvider value={value}>
      <div aria-hidden={ended || undefined}>{children}</div>
      {!ended && <IdleWarning info={phase.info} onExpired={() => client.reportUnauthorized()} />}
      {ended && (
        <div className="dialog-backdrop">
          <div className="dialog" role="dialog" aria-modal="true" aria-labelledby="relogin-title">
            <h2 id="relogin-title">Sign in again</h2>
            <LoginForm
              onSignedIn={(info) => (info.user.username === phase.info.user.username ? signedIn(info) : window.location.assign("/"))}
              reason="Your session has ended. Sign in to carry on where you were; uploads waiting for it will resume."
              username={phase.info.user.username}
            />
          </div>
        </div>
      )}
    </SessionProvider>
  );
}
