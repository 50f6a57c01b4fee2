/**
 * The client's one session, kept open: opened on connect (or by the first
 * write), one open at a time however many calls need it, kept alive in the
 * background, replaced when a member says it expired, and closed on close()
 * so that the members free its saved results at once (not after its TTL).
 */
import { Method, type MethodTypes } from '../protocol/index.js';
import { SessionExpiredError } from '../kv/errors.js';
import type { Clock, Timer } from '../common/clock.js';
import { Deadline } from './deadline.js';
import { ClientSession } from './session.js';

/** How the keeper sends its session calls (the client's retry loop). */
export type SessionCall = <M extends typeof Method.OpenSession | typeof Method.KeepAlive | typeof Method.CloseSession>(
  method: M,
  request: MethodTypes[M]['request'],
  deadline: Deadline,
) => Promise<MethodTypes[M]['response']>;

/** Keep-alives are at least this far apart, whatever TTL the members grant. */
const keepAliveIntervalMinMs = 100;

export class SessionKeeper {
  private session: ClientSession | null = null;
  private opening: Promise<ClientSession> | null = null;
  private keepAliveTimer: Timer | null = null;
  private keepAliveInFlight = false;
  private stopped = false;

  constructor(
    private readonly call: SessionCall,
    private readonly clock: Clock,
    /** The TTL the client asks for (the members clamp it). */
    private readonly ttlMs: number,
    /** The client's closing: a keep-alive in flight ends with it. */
    private readonly closeSignal: AbortSignal,
  ) {}

  /** The latest session, expired or not (null before the first is open). */
  get current(): ClientSession | null {
    return this.session;
  }

  /** The session when it is open (not known to have expired), else null. */
  get open(): ClientSession | null {
    const session = this.session;
    return session !== null && !session.expired ? session : null;
  }

  /**
   * The open session, opening one if needed. One open at a time: it runs
   * under the deadline of the call that started it, and the calls that arrive
   * meanwhile wait for it (and start their own if it fails while they still
   * have time).
   */
  async ensure(deadline: Deadline): Promise<ClientSession> {
    for (;;) {
      const open = this.open;
      if (open !== null) return open;
      if (this.opening === null) {
        const opening = this.openSession(deadline);
        this.opening = opening;
        try {
          return await opening;
        } finally {
          if (this.opening === opening) this.opening = null;
        }
      }
      try {
        return await deadline.race(this.opening);
      } catch (error) {
        if (deadline.expired) throw error;
        // The open failed under another call's deadline: try again under ours.
      }
    }
  }

  /**
   * Stops the keep-alives and closes the open session, best effort within
   * `deadline`: an unreachable cluster lets the session expire by its TTL.
   */
  async close(deadline: Deadline): Promise<void> {
    this.stop();
    const session = this.open;
    if (session === null) return;
    try {
      await this.call(Method.CloseSession, { sessionId: session.id }, deadline);
    } catch {
      // Best effort (see above).
    }
  }

  /** Stops the keep-alives (the client is closing or was never handed out). */
  stop(): void {
    this.stopped = true;
    this.keepAliveTimer?.cancel();
    this.keepAliveTimer = null;
  }

  private async openSession(deadline: Deadline): Promise<ClientSession> {
    const response = await this.call(Method.OpenSession, { ttlMs: this.ttlMs }, deadline);
    this.session = new ClientSession(response.sessionId, response.ttlMs);
    if (!this.stopped) this.scheduleKeepAlive(response.ttlMs);
    return this.session;
  }

  /**
   * Keep-alives every third of the TTL: two may be lost before the session
   * expires. The timer does not keep the process alive on its own.
   */
  private scheduleKeepAlive(ttlMs: number): void {
    this.keepAliveTimer?.cancel();
    const intervalMs = Math.max(keepAliveIntervalMinMs, Math.floor(ttlMs / 3));
    this.keepAliveTimer = this.clock.setRepeating(intervalMs, () => void this.keepAlive(intervalMs), { keepsProcessAlive: false });
  }

  private async keepAlive(timeoutMs: number): Promise<void> {
    const session = this.open;
    if (session === null || this.keepAliveInFlight) return;
    this.keepAliveInFlight = true;
    try {
      await this.call(Method.KeepAlive, { sessionId: session.id }, new Deadline(this.clock, 'session.keepAlive', timeoutMs, undefined, this.closeSignal));
    } catch (error) {
      // Expired: the next write opens a new session. Anything else: the next tick tries again.
      if (error instanceof SessionExpiredError) session.expired = true;
    } finally {
      this.keepAliveInFlight = false;
    }
  }
}
