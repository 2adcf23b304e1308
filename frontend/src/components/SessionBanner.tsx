import { useConnection } from "../live/hooks";

/** Shown on HTTP 401 or WebSocket close 4001: nothing works until the user logs in again. */
export function SessionBanner() {
  const { state } = useConnection();
  if (state !== "unauthorized") return null;
  return (
    <div className="banner banner--error" role="alert">
      <strong>Your session has ended.</strong> Sign in again to carry on.
    </div>
  );
}
