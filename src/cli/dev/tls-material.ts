/**
 * Certificates for a local TLS cluster (`concord dev --tls`, tests,
 * benchmarks): a private CA, one certificate per member (CN and a DNS SAN =
 * the member name, plus localhost, 127.0.0.1 and ::1, usable as server and as
 * client so members can dial each other with mutual TLS), and client
 * certificates whose CN is a user name (for --client-cert-auth).
 *
 * Files in `dir` (0700): ca.crt, ca.key, member-<name>.crt/.key,
 * client-<user>.crt/.key; keys are written 0600. Existing files are reused
 * when they are still good (parse, key matches certificate, signed by the CA,
 * names as expected, valid for at least REUSE_VALIDITY_LEFT_MS more); a bad
 * CA regenerates everything, a bad leaf only that leaf. Keys are ECDSA P-256,
 * signatures SHA-256. Generation uses @peculiar/x509 over Node's WebCrypto;
 * checks use node:crypto's X509Certificate.
 */
import { X509Certificate as NodeX509, createPrivateKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import type { Clock } from '../../common/clock.js';
import { ConcordError, ConcordErrorCode } from '../../common/errors.js';
import { systemClock } from '../../common/system-clock.js';
import { createCa, ecdsa, issueLeaf, subtle, type Issued, type Issuer } from '../../common/certificate-issuer.js';

export interface TlsMaterialOptions {
  readonly dir: string;
  /** Member names (each gets a certificate with CN and a SAN = its name). */
  readonly members: readonly string[];
  /** Users that get a client certificate (CN = the user). Default: root. */
  readonly clientUsers?: readonly string[];
  /** Validity of new certificates. Default 365 days. */
  readonly validityDays?: number;
  readonly clock?: Clock;
}

export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface TlsMaterial {
  readonly dir: string;
  readonly caFile: string;
  readonly caKeyFile: string;
  readonly members: Readonly<Record<string, CertificateFiles>>;
  readonly clients: Readonly<Record<string, CertificateFiles>>;
  /** Files written by this call (the rest were reused). */
  readonly written: readonly string[];
}

/** A name that goes into a file name and a certificate subject without escaping. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Existing certificates are replaced when they expire within this (1 day). */
export const REUSE_VALIDITY_LEFT_MS = 24 * 3600 * 1000;
const LOCAL_HOSTS = ['localhost'];
const LOCAL_IPS = ['127.0.0.1', '::1'];

export class TlsMaterialError extends ConcordError {
  constructor(message: string) {
    super(ConcordErrorCode.TlsMaterial, message);
  }
}

interface Paths {
  readonly caFile: string;
  readonly caKeyFile: string;
  member(name: string): CertificateFiles;
  client(user: string): CertificateFiles;
}

function pathsIn(dir: string): Paths {
  return {
    caFile: join(dir, 'ca.crt'),
    caKeyFile: join(dir, 'ca.key'),
    member: (name) => ({ certFile: join(dir, `member-${name}.crt`), keyFile: join(dir, `member-${name}.key`) }),
    client: (user) => ({ certFile: join(dir, `client-${user}.crt`), keyFile: join(dir, `client-${user}.key`) }),
  };
}

/** Writes `data` through a temporary file and a rename, so a crash never leaves half a key. */
function writeAtomically(path: string, data: string, mode: number): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode); // the umask may have narrowed or the file existed with other bits
  renameSync(tmp, path);
}


/** A loaded certificate and key, checked to belong together. */
interface Loaded {
  readonly cert: NodeX509;
  readonly certPem: string;
  readonly keyPem: string;
}

function load(files: CertificateFiles): Loaded | null {
  try {
    const certPem = readFileSync(files.certFile, 'utf8');
    const keyPem = readFileSync(files.keyFile, 'utf8');
    const cert = new NodeX509(certPem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return null;
    return { cert, certPem, keyPem };
  } catch {
    return null;
  }
}

function stillValid(cert: NodeX509, nowMs: number): boolean {
  return Date.parse(cert.validFrom) <= nowMs && Date.parse(cert.validTo) - nowMs >= REUSE_VALIDITY_LEFT_MS;
}

function commonName(cert: NodeX509): string | null {
  const match = /^CN=(.*)$/m.exec(cert.subject);
  return match ? match[1]! : null;
}

function sans(cert: NodeX509): string[] {
  return (cert.subjectAltName ?? '').split(', ').filter((s) => s.length > 0).sort();
}

function expectedMemberSans(name: string): string[] {
  const dns = [...new Set([name, ...LOCAL_HOSTS])].map((h) => `DNS:${h}`);
  // node prints IPv6 SANs in full form.
  const ips = LOCAL_IPS.map((ip) => `IP Address:${ip === '::1' ? '0:0:0:0:0:0:0:1' : ip}`);
  return [...dns, ...ips].sort();
}

function goodLeaf(loaded: Loaded | null, ca: Loaded, cn: string, expectedSans: string[] | null, nowMs: number): boolean {
  if (loaded === null) return false;
  const { cert } = loaded;
  if (!stillValid(cert, nowMs) || !cert.checkIssued(ca.cert) || !cert.verify(ca.cert.publicKey)) return false;
  if (commonName(cert) !== cn) return false;
  if (expectedSans !== null) {
    const actual = sans(cert);
    // Tolerate both spellings of ::1 across Node versions.
    const normalized = actual.map((s) => (s === 'IP Address:::1' ? 'IP Address:0:0:0:0:0:0:0:1' : s)).sort();
    if (JSON.stringify(normalized) !== JSON.stringify(expectedSans)) return false;
  }
  return true;
}

async function loadIssuer(ca: Loaded): Promise<Issuer> {
  const der = createPrivateKey(ca.keyPem).export({ type: 'pkcs8', format: 'der' });
  const privateKey = await subtle.importKey('pkcs8', der, ecdsa, false, ['sign']);
  return { cert: new x509.X509Certificate(ca.certPem), privateKey };
}

function checkNames(kind: string, names: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (!NAME_PATTERN.test(name)) throw new TlsMaterialError(`${kind} name ${JSON.stringify(name)} must match ${NAME_PATTERN}`);
    if (seen.has(name)) throw new TlsMaterialError(`${kind} name ${JSON.stringify(name)} given twice`);
    seen.add(name);
  }
}

/** Creates (or reuses) the CA, member and client certificates in `options.dir`. */
export async function ensureTlsMaterial(options: TlsMaterialOptions): Promise<TlsMaterial> {
  const { dir, members } = options;
  const clientUsers = options.clientUsers ?? ['root'];
  const validityDays = options.validityDays ?? 365;
  const nowMs = (options.clock ?? systemClock).nowMs();
  checkNames('member', members);
  checkNames('client user', clientUsers);
  if (!(validityDays >= 2 && validityDays <= 3650)) throw new TlsMaterialError('validityDays must be in [2, 3650]');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
  const paths = pathsIn(dir);
  const written: string[] = [];
  const save = (files: CertificateFiles, issued: Issued): void => {
    writeAtomically(files.keyFile, issued.keyPem, 0o600);
    writeAtomically(files.certFile, issued.certPem, 0o644);
    written.push(files.certFile, files.keyFile);
  };

  const caFiles = { certFile: paths.caFile, keyFile: paths.caKeyFile };
  let ca = load(caFiles);
  let caRenewed = false;
  if (ca === null || !stillValid(ca.cert, nowMs) || !ca.cert.ca || !ca.cert.verify(ca.cert.publicKey)) {
    const created = await createCa('Concord dev CA', nowMs, validityDays);
    save(caFiles, created);
    ca = load(caFiles);
    caRenewed = true;
    if (ca === null) throw new TlsMaterialError(`the CA just written to ${dir} does not load`);
  }
  let issuer: Issuer | null = null;

  const ensureLeaf = async (files: CertificateFiles, cn: string, server: boolean): Promise<void> => {
    const expectedSans = server ? expectedMemberSans(cn) : null;
    if (!caRenewed && goodLeaf(load(files), ca!, cn, expectedSans, nowMs)) {
      // Reused: make sure the key is still private.
      if ((statSync(files.keyFile).mode & 0o077) !== 0) chmodSync(files.keyFile, 0o600);
      return;
    }
    issuer ??= await loadIssuer(ca!);
    const names: x509.JsonGeneralNames | null = server
      ? [
          ...[...new Set([cn, ...LOCAL_HOSTS])].map((h): x509.JsonGeneralName => ({ type: 'dns', value: h })),
          ...LOCAL_IPS.map((ip): x509.JsonGeneralName => ({ type: 'ip', value: ip })),
        ]
      : null;
    save(files, await issueLeaf(issuer, cn, names, server, nowMs, validityDays));
  };

  const memberFiles: Record<string, CertificateFiles> = {};
  for (const name of members) {
    memberFiles[name] = paths.member(name);
    await ensureLeaf(memberFiles[name], name, true);
  }
  const clientFiles: Record<string, CertificateFiles> = {};
  for (const user of clientUsers) {
    clientFiles[user] = paths.client(user);
    await ensureLeaf(clientFiles[user], user, false);
  }
  return { dir, caFile: paths.caFile, caKeyFile: paths.caKeyFile, members: memberFiles, clients: clientFiles, written };
}

/** Whether `dir` holds a CA (for messages such as "reusing the certificates in ..."). */
export function hasTlsMaterial(dir: string): boolean {
  return existsSync(join(dir, 'ca.crt')) && existsSync(join(dir, 'ca.key'));
}
