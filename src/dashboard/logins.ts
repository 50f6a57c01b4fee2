/**
 * Who the dashboard talks to the member as. Without a login, one shared
 * anonymous client; after a login, one client per login session holding that
 * user's credentials, so every API call is authorized by the member exactly
 * as that user's own client would be. The browser holds only a random
 * session id in an HttpOnly, SameSite=Strict cookie.
 */
import { randomBytes } from 'node:crypto';
import { connect, type KvClient } from '../client/index.js';
import type { Clock } from '../common/clock.js';
import type { TlsOptions } from '../net/index.js';
import type { CertificateLogin } from './certificate-login.js';

/** Login sessions held at once; beyond it the least recently used one is logged out. */
export const loginSessionsMax = 64;
/** A login session unused this long is logged out. */
export const loginIdleMs = 30 * 60_000;
export const sessionCookie = 'concord_dashboard';

interface Login {
  readonly user: string;
  readonly client: KvClient;
  lastUsedMs: number;
}

export class Logins {
  private anonymous: Promise<KvClient> | null = null;
  private readonly sessions = new Map<string, Login>();
  /** One client per certificate user (at most loginSessionsMax; the oldest is closed). */
  private readonly byCertificate = new Map<string, Promise<KvClient>>();

  constructor(
    private readonly clientUrl: string,
    private readonly clock: Clock,
    private readonly tls?: TlsOptions,
    /** Certificate logins: the private listener and the certificates for it (certificate-login.ts). */
    private readonly certificates?: { readonly endpoint: string; readonly login: CertificateLogin },
  ) {}

  private open(auth?: { user: string; password: string }, endpoint = this.clientUrl, tls = this.tls): Promise<KvClient> {
    // No session opened until the first write: a dashboard that only looks proposes nothing.
    return connect({ endpoints: [endpoint], openSessionOnConnect: false, timeoutMs: 5_000, clock: this.clock, ...(tls !== undefined ? { tls } : {}), ...(auth !== undefined ? { auth } : {}) });
  }

  /**
   * The client for a request: its password login's (cookie), else its
   * browser certificate's user's (when the listener verified one), else the
   * anonymous one. `login` names which of those it is (a bound per login
   * counts by it: a cookie that is no login counts as anonymous).
   */
  async clientFor(sessionId: string | null, certificateUser: string | null = null): Promise<{ client: KvClient; user: string | null; login: string }> {
    const login = sessionId === null ? undefined : this.sessions.get(sessionId);
    if (login !== undefined) {
      if (this.clock.monotonicMs() - login.lastUsedMs > loginIdleMs) {
        await this.logout(sessionId);
      } else {
        login.lastUsedMs = this.clock.monotonicMs();
        // Map order is use order: the first entry is the least recently used.
        this.sessions.delete(sessionId!);
        this.sessions.set(sessionId!, login);
        return { client: login.client, user: login.user, login: `session:${sessionId!}` };
      }
    }
    if (certificateUser !== null && this.certificates !== undefined) return { client: await this.certificateClient(certificateUser), user: certificateUser, login: `certificate:${certificateUser}` };
    if (this.anonymous === null) {
      this.anonymous = this.open();
      this.anonymous.catch(() => (this.anonymous = null));
    }
    return { client: await this.anonymous, user: null, login: 'anonymous' };
  }

  private async certificateClient(user: string): Promise<KvClient> {
    const certificates = this.certificates!;
    let client = this.byCertificate.get(user);
    if (client === undefined) {
      const opening = certificates.login.clientTls(user).then((tls) => this.open(undefined, certificates.endpoint, tls));
      client = opening;
      this.byCertificate.set(user, opening);
      opening.catch(() => this.byCertificate.delete(user));
      while (this.byCertificate.size > loginSessionsMax) {
        const oldest = this.byCertificate.keys().next().value as string;
        void this.byCertificate.get(oldest)?.then((c) => c.close().catch(() => undefined), () => undefined);
        this.byCertificate.delete(oldest);
      }
    }
    return client;
  }

  /** Checks the credentials with the member (a status call authenticates the connection) and returns a new session id. */
  async login(user: string, password: string): Promise<string> {
    const client = await this.open({ user, password });
    try {
      await client.status();
    } catch (error) {
      await client.close().catch(() => undefined);
      throw error;
    }
    while (this.sessions.size >= loginSessionsMax) {
      const oldest = this.sessions.keys().next().value as string;
      await this.logout(oldest);
    }
    const id = randomBytes(24).toString('base64url');
    this.sessions.set(id, { user, client, lastUsedMs: this.clock.monotonicMs() });
    return id;
  }

  async logout(sessionId: string | null): Promise<void> {
    if (sessionId === null) return;
    const login = this.sessions.get(sessionId);
    this.sessions.delete(sessionId);
    await login?.client.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    const clients = [...this.sessions.values()].map((l) => l.client);
    this.sessions.clear();
    const anonymous = this.anonymous;
    this.anonymous = null;
    const opening = [...this.byCertificate.values(), ...(anonymous !== null ? [anonymous] : [])];
    this.byCertificate.clear();
    for (const client of opening) clients.push(...(await client.then((c) => [c], () => [])));
    await Promise.all(clients.map((c) => c.close({ timeoutMs: 1_000 }).catch(() => c.abort())));
  }
}

/** The session id in a Cookie header, or null. */
export function sessionIdFrom(cookieHeader: string | undefined): string | null {
  for (const part of (cookieHeader ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === sessionCookie) return rest.join('=') || null;
  }
  return null;
}
