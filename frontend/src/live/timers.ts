// Named timers, so the client can cancel "the pong timer" without juggling handles, and
// so every timer a socket owns can be cleared in one place when that socket goes away.

export class NamedTimers<Name extends string> {
  private readonly handles = new Map<Name, ReturnType<typeof setTimeout>>();

  has(name: Name): boolean {
    return this.handles.has(name);
  }

  timeout(name: Name, ms: number, fn: () => void): void {
    this.clear(name);
    const handle = setTimeout(() => {
      this.handles.delete(name);
      fn();
    }, ms);
    this.handles.set(name, handle);
  }

  interval(name: Name, ms: number, fn: () => void): void {
    this.clear(name);
    this.handles.set(name, setInterval(fn, ms));
  }

  clear(...names: Name[]): void {
    for (const name of names) {
      const handle = this.handles.get(name);
      if (handle === undefined) continue;
      // Timeout and interval handles share one id space in browsers and in Node.
      clearTimeout(handle);
      clearInterval(handle);
      this.handles.delete(name);
    }
  }
}
