// The socket half of the live client: opening, hello/auth, heartbeats, close codes and
// full-jitter reconnects. It knows nothing about topics; LiveClient builds on its callbacks.
import { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from "./backoff";
import type { ClientMessage, EventMessage, HelloMessage, ResultMessage } from "./protocol";
import { CLIENT_DROPPED, CloseCode, parseServerMessage } from "./protocol";
import type { ConnectionInfo } from "./store";
import { NamedTimers } from "./timers";
import { SOCKET_OPEN, browserNetwork } from "./transport";
import type { NetworkMonitor, SocketConstructor, SocketLike } from "./transport";

export interface ConnectionOptions {
  url: string;
  /** Injected in tests; defaults to the browser's WebSocket. */
  WebSocket?: SocketConstructor;
  /** Only for programs: browsers authenticate the handshake with the session cookie. */
  token?: string;
  backoff?: Partial<BackoffOptions>;
  random?: () => number;
  pongTimeoutMs?: number;
  helloTimeoutMs?: number;
  /** null disables online/offline tracking. */
  network?: NetworkMonitor | null;
  log?: (message: string) => void;
}

export interface ConnectionHandlers {
  status(patch: Partial<ConnectionInfo>): void;
  hello(msg: HelloMessage): void;
  message(msg: ResultMessage | EventMessage): void;
  /** The socket is gone, for whatever reason; subscriptions on it are void. */
  down(): void;
}

type TimerName = "reconnect" | "hello" | "heartbeat" | "pong";

export class LiveConnection {
  private readonly timers = new NamedTimers<TimerName>();
  private readonly Socket: SocketConstructor;
  private readonly backoff: BackoffOptions;
  private readonly network: NetworkMonitor | null;
  private ws: SocketLike | null = null;
  private unwatchNetwork: (() => void) | null = null;
  private started = false;
  private open = false;
  private unauthorized = false;
  private attempt = 0;
  private lastId = 0;
  private pingId: number | null = null;

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly on: ConnectionHandlers,
  ) {
    this.Socket = opts.WebSocket ?? (globalThis.WebSocket as SocketConstructor);
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.network = opts.network === undefined ? browserNetwork() : opts.network;
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Request ids never reset, so they stay strictly increasing on every connection. */
  nextId(): number {
    this.lastId += 1;
    return this.lastId;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.unwatchNetwork = this.network?.subscribe((online) => this.onNetwork(online)) ?? null;
    if (this.isNetworkOnline()) this.connect();
    else this.goOffline();
  }

  stop(): void {
    this.started = false;
    this.unwatchNetwork?.();
    this.unwatchNetwork = null;
    this.closeSocket(CloseCode.NORMAL, "client closed");
    this.goOffline();
  }

  reconnectNow(): void {
    if (!this.started) return this.start();
    this.unauthorized = false;
    this.attempt = 0;
    this.connect();
  }

  goUnauthorized(): void {
    this.unauthorized = true;
    this.closeSocket(CloseCode.NORMAL, "unauthorized");
    this.timers.clear("reconnect");
    this.on.status({ state: "unauthorized", retryAt: null });
  }

  send(msg: ClientMessage): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== SOCKET_OPEN) return false;
    try {
      ws.send(JSON.stringify(msg));
      return true;
    } catch (err) {
      this.log(`send failed: ${String(err)}`);
      return false;
    }
  }

  private connect(): void {
    this.closeSocket(CloseCode.NORMAL, "replaced");
    this.timers.clear("reconnect");
    this.on.status({ state: "connecting", retryAt: null });
    let ws: SocketLike;
    try {
      ws = new this.Socket(this.opts.url);
    } catch (err) {
      this.log(`websocket constructor failed: ${String(err)}`);
      return this.scheduleReconnect();
    }
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (this.ws === ws) this.handleFrame(ev.data);
    };
    ws.onclose = (ev) => {
      if (this.ws === ws) this.handleClose(ev.code);
    };
    ws.onerror = () => undefined; // a close event always follows; handled there
    this.timers.timeout("hello", this.opts.helloTimeoutMs ?? 15_000, () => this.drop("no hello"));
  }

  private handleFrame(data: unknown): void {
    const msg = parseServerMessage(data);
    if (!msg) return this.log("ignored a malformed frame");
    if (msg.type === "hello") return this.handleHello(msg);
    if (msg.type === "auth_required") {
      if (this.opts.token) return void this.send({ type: "auth", token: this.opts.token });
      return this.goUnauthorized();
    }
    // Any reply to our ping proves the server is alive, even an error (e.g. rate_limited).
    if (msg.type === "result" && (msg.pong || msg.id === this.pingId)) this.clearPing();
    this.on.message(msg);
  }

  private handleHello(msg: HelloMessage): void {
    this.timers.clear("hello");
    this.open = true;
    this.attempt = 0;
    this.on.status({
      state: "open",
      attempt: 0,
      retryAt: null,
      serverVersion: msg.version,
      epoch: msg.epoch,
    });
    const intervalMs = Math.max(1, msg.heartbeat) * 1000;
    this.timers.interval("heartbeat", intervalMs, () => this.ping(intervalMs));
    this.on.hello(msg);
  }

  private handleClose(code: number): void {
    this.teardown();
    this.on.status({ lastCloseCode: code });
    if (code === CloseCode.UNAUTHORIZED) return this.goUnauthorized();
    // 1000 is the server's deliberate "do not come back"; the badge offers a manual retry.
    if (code === CloseCode.NORMAL || !this.isNetworkOnline()) return this.goOffline();
    this.scheduleReconnect();
  }

  /** Gives up on a socket that went silent; a half-open TCP close can take minutes. */
  private drop(reason: string): void {
    this.log(`dropping connection: ${reason}`);
    this.closeSocket(CLIENT_DROPPED, reason);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (!this.started || this.unauthorized) return;
    const delay = backoffDelay(this.attempt, this.opts.random, this.backoff);
    this.attempt += 1;
    this.on.status({ state: "reconnecting", attempt: this.attempt, retryAt: Date.now() + delay });
    this.timers.timeout("reconnect", delay, () => this.connect());
  }

  private goOffline(): void {
    this.timers.clear("reconnect");
    this.on.status({ state: "offline", retryAt: null });
  }

  private onNetwork(online: boolean): void {
    if (!this.started || this.unauthorized) return;
    if (!online) {
      this.closeSocket(CloseCode.NORMAL, "offline");
      return this.goOffline();
    }
    // Back online: try at once instead of waiting out a long backoff.
    if (!this.ws) {
      this.attempt = 0;
      this.connect();
    }
  }

  private ping(intervalMs: number): void {
    if (this.pingId !== null) return; // the earlier ping's timer decides
    const id = this.nextId();
    this.pingId = id;
    // Armed before sending: a reply can arrive before send() returns (in tests it does).
    const wait = Math.min(this.opts.pongTimeoutMs ?? 10_000, intervalMs);
    this.timers.timeout("pong", wait, () => this.drop("no pong"));
    this.send({ id, type: "ping" });
  }

  private clearPing(): void {
    this.pingId = null;
    this.timers.clear("pong");
  }

  private closeSocket(code: number, reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    this.teardown();
    try {
      ws.close(code, reason);
    } catch {
      // already closing
    }
  }

  private teardown(): void {
    const ws = this.ws;
    if (ws) ws.onmessage = ws.onclose = ws.onerror = ws.onopen = null;
    this.ws = null;
    this.timers.clear("hello", "heartbeat");
    this.clearPing();
    if (this.open || ws) {
      this.open = false;
      this.on.down();
    }
  }

  private isNetworkOnline(): boolean {
    return this.network?.isOnline() ?? true;
  }

  private log(message: string): void {
    this.opts.log?.(message);
  }
}
