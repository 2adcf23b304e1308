// Full jitter ("Exponential Backoff And Jitter", AWS architecture blog): a uniformly random
// delay in [0, min(cap, base * 2^attempt)). It spreads a ward's worth of tablets reconnecting
// after a server restart, instead of having them retry in lockstep.

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, capMs: 15_000 };

/** The upper bound of the delay for this attempt (0-based). */
export function backoffCeiling(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  // Clamp the exponent so 2^attempt never overflows into Infinity on long outages.
  const exp = Math.min(Math.max(attempt, 0), 30);
  return Math.min(opts.capMs, opts.baseMs * 2 ** exp);
}

export function backoffDelay(
  attempt: number,
  random: () => number = Math.random,
  opts: BackoffOptions = DEFAULT_BACKOFF,
): number {
  return Math.floor(random() * backoffCeiling(attempt, opts));
}
