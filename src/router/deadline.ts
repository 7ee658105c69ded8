// A timer for a moment that may be further away than one Node timer can
// wait: setTimeout takes at most 2^31-1 ms (about 24.8 days) and fires at
// once for more, so a longer wait is made of several timers, each re-armed
// for what is left until the deadline passes. The session expiry and the
// will delay use it (MQTT 5 allows up to 2^32-1 s for both).
//
// Who calls it: router.ts (session expiry) and will-timer.ts (will delay).
// It keeps nothing alive: its timers are unref'd.
//
// Invariants: `fire` runs at most once, never before Date.now() reaches the
// deadline, and never after cancel().

/** The longest a Node timer may wait (about 24.8 days). */
export const MAX_TIMER_MS = 2_147_483_647;

export interface Deadline {
  /** Stops the wait; `fire` will not run. */
  cancel(): void;
}

/**
 * Calls `fire` once Date.now() reaches `deadlineMs` (at once when it has
 * passed). `maxTimerMs` is the longest single timer; tests pass a small one.
 */
export function armDeadline(
  deadlineMs: number,
  fire: () => void,
  maxTimerMs: number = MAX_TIMER_MS,
): Deadline {
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const remainingMs = deadlineMs - Date.now();
    // A capped timer, or one that fires a moment before Date.now() shows its time, leads
    // to check() and a new timer for what is left.
    timer = setTimeout(check, Math.min(Math.max(remainingMs, 0), maxTimerMs));
    timer.unref();
  };
  const check = (): void => {
    if (Date.now() < deadlineMs) {
      arm();
      return;
    }
    timer = undefined;
    fire();
  };
  arm();
  return {
    cancel: () => {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
