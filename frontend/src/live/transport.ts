// The two browser facilities the client needs, as small interfaces so tests can inject
// fakes (a scripted WebSocket server, a network that goes offline on demand).

/** The subset of the DOM WebSocket the client uses. */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketConstructor = new (url: string) => SocketLike;

export const SOCKET_OPEN = 1;

export interface NetworkMonitor {
  isOnline(): boolean;
  subscribe(onChange: (online: boolean) => void): () => void;
}

/** navigator.onLine lies in both directions sometimes, so it only pauses/resumes retries. */
export function browserNetwork(): NetworkMonitor | null {
  if (typeof window === "undefined" || typeof navigator === "undefined") return null;
  return {
    isOnline: () => navigator.onLine !== false,
    subscribe(onChange) {
      const on = (): void => onChange(true);
      const off = (): void => onChange(false);
      window.addEventListener("online", on);
      window.addEventListener("offline", off);
      return () => {
        window.removeEventListener("online", on);
        window.removeEventListener("offline", off);
      };
    },
  };
}

export function defaultSocketUrl(): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/api/ws`;
}
