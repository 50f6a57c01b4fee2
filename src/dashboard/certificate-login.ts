/**
 * Client-certificate login (etcd's --client-cert-auth, for the browser).
 * The dashboard's listener (an https:// metrics URL) asks the browser for a
 * certificate; one that verifies against the member's --trusted-ca-file makes
 * its CN the page's user. The dashboard cannot hand the browser's
 * certificate on (it has no key for it), so it acts as that user the way any
 * client with a certificate does: it connects to a private tls:// client
 * listener of its member (loopback, port chosen at start) that trusts only a
 * CA created in memory when the member starts, presenting a certificate for
 * the CN signed by that CA. The member takes the CN as the user exactly as on
 * its public client URL, so auth and forwarding are those of any client. The
 * CA's key never leaves this process; nobody else can log in there.
 */
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import { createCa, DAY_MS, issueLeaf, type CryptoKey, type Issued } from '../common/certificate-issuer.js';
import * as x509 from '@peculiar/x509';
import type { Clock } from '../common/clock.js';
import type { TlsOptions } from '../net/index.js';

/** Users whose certificates are kept (a new one is issued for any other). */
export const certificateUsersMax = 256;
/** How long an issued certificate is valid; one older than half of it is issued again. */
const leafValidityDays = 1;

/** The verified CN of a request's browser certificate, or null (no certificate, or one that does not verify). */
export function certificateUserOf(request: IncomingMessage): string | null {
  const socket = request.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function' || socket.authorized !== true) return null;
  const certificate: PeerCertificate = socket.getPeerCertificate();
  const cn = (certificate?.subject as Record<string, string | string[] | undefined> | undefined)?.['CN'];
  const name = typeof cn === 'string' ? cn : Array.isArray(cn) ? cn[0] : undefined;
  return name !== undefined && USER_PATTERN.test(name) ? name : null;
}

/** CNs taken as users: they go into an issued certificate's subject unescaped. */
const USER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

export class CertificateLogin {
  private readonly issued = new Map<string, { readonly tls: TlsOptions; readonly issuedMs: number }>();

  private constructor(
    private readonly ca: Issued & { readonly cert: x509.X509Certificate; readonly privateKey: CryptoKey },
    /** The private listener's own certificate (127.0.0.1). */
    readonly listenerTls: TlsOptions,
    private readonly clock: Clock,
  ) {}

  static async create(clock: Clock): Promise<CertificateLogin> {
    const nowMs = clock.nowMs();
    const created = await createCa('Concord dashboard login CA', nowMs, 3650);
    const ca = { ...created, privateKey: created.keys.privateKey };
    const server = await issueLeaf(ca, 'concord-dashboard-login', [{ type: 'ip', value: '127.0.0.1' }], true, nowMs, 3650);
    return new CertificateLogin(ca, { cert: server.certPem, key: server.keyPem, ca: ca.certPem, requestClientCert: true }, clock);
  }

  /** How the dashboard connects to the private listener as `user`. */
  async clientTls(user: string): Promise<TlsOptions> {
    const nowMs = this.clock.nowMs();
    const kept = this.issued.get(user);
    if (kept !== undefined && nowMs - kept.issuedMs < (leafValidityDays * DAY_MS) / 2) return kept.tls;
    const leaf = await issueLeaf(this.ca, user, null, false, nowMs, leafValidityDays);
    const tls: TlsOptions = { cert: leaf.certPem, key: leaf.keyPem, ca: this.ca.certPem };
    this.issued.delete(user);
    this.issued.set(user, { tls, issuedMs: nowMs });
    if (this.issued.size > certificateUsersMax) this.issued.delete(this.issued.keys().next().value as string);
    return tls;
  }
}
