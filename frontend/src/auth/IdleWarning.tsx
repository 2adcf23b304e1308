// A warning before the idle timeout, with "Stay signed in". The server keeps the real
// deadline (any request moves it); this polls it without counting as activity.
import { useEffect, useState } from "react";
import { useSession } from "./session";
import { auth, type SessionInfo } from "./api";

const WARN_BEFORE_MS = 60_000;
const POLL_MS = 30_000;

function remaining(info: SessionInfo): number | null {
  return info.idle_expires_at ? Date.parse(info.idle_expires_at) - Date.now() : null;
}

export function IdleWarning({ info, onExpired }: { info: SessionInfo; onExpired: () => void }) {
  const { staySignedIn } = useSession();
  const [current, setCurrent] = useState(info);
  const [now, setNow] = useState(Date.now());
  useEffect(() => setCurrent(info), [info]);

  useEffect(() => {
    if (!info.idle_expires_at) return;
    const tick = window.setInterval(() => setNow(Date.now()), 1000);
    const poll = window.setInterval(() => {
      auth.session().then(setCurrent, () => onExpired());
    }, POLL_MS);
    return () => {
      window.clearInterval(tick);
      window.clearInterval(poll);
    };
  }, [info.idle_expires_at, onExpired]);

  const left = remaining(current);
  useEffect(() => {
    if (left !== null && left <= 0) auth.session().then(setCurrent, () => onExpired());
  }, [left !== null && left <= 0, onExpired]); // eslint-disable-line react-hooks/exhaustive-deps
  void now;
  if (left === null || left > WARN_BEFORE_MS || left <= 0) return null;
  return (
    <div className="banner banner--warning" role="alertdialog" aria-labelledby="idle-title">
      <strong id="idle-title">You will be signed out in {Math.ceil(left / 1000)} seconds</strong> because
      nothing happened for a while.{" "}
      <button type="button" className="btn btn--primary" onClick={staySignedIn}>
        Stay signed in
      </button>
    </div>
  );
}
