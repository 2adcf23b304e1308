import { useEffect, useState } from "react";
import { useLive } from "../live/context";
import { useConnection } from "../live/hooks";
import type { ConnectionInfo } from "../live/store";

/** Re-renders every second while a countdown is on screen, not otherwise. */
function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [active]);
  return now;
}

export function connectionText(info: ConnectionInfo, now: number): string {
  switch (info.state) {
    case "open":
      return "Live";
    case "connecting":
      return info.attempt > 0 ? "Reconnecting…" : "Connecting…";
    case "reconnecting": {
      const seconds = Math.max(0, Math.ceil(((info.retryAt ?? now) - now) / 1000));
      return seconds > 0 ? `Connection lost, reconnecting in ${seconds} s` : "Reconnecting…";
    }
    case "offline":
      return "Offline";
    case "unauthorized":
      return "Session expired";
  }
}

const ICONS: Record<ConnectionInfo["state"], string> = {
  open: "●",
  connecting: "◌",
  reconnecting: "◌",
  offline: "○",
  unauthorized: "⚠",
};

export function ConnectionBadge() {
  const { client } = useLive();
  const info = useConnection();
  const now = useNow(info.state === "reconnecting");
  const canRetry = info.state === "reconnecting" || info.state === "offline";
  return (
    <div className={`conn conn--${info.state}`}>
      <span className="conn__icon" aria-hidden="true">
        {ICONS[info.state]}
      </span>
      <span className="conn__text" data-testid="connection-text">
        {connectionText(info, now)}
      </span>
      {canRetry && (
        <button type="button" className="btn btn--small" onClick={() => client.reconnect()}>
          Reconnect now
        </button>
      )}
    </div>
  );
}
