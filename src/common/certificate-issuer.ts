/**
 * Certificate issuing with @peculiar/x509 over Node's WebCrypto: a private
 * CA and leaf certificates signed by it (ECDSA P-256, SHA-256). Used by
 * `concord dev --tls` (src/cli/dev/tls-material.ts: files on disk) and by the
 * dashboard's certificate login (an in-memory CA that lives as long as the
 * member: src/dashboard/certificate-login.ts).
 */
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/** notBefore is set this far back, for clocks that are slightly behind (1 hour). */
const CLOCK_SKEW_MS = 3600 * 1000;
export const DAY_MS = 24 * 3600 * 1000;

export const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
export type CryptoKey = webcrypto.CryptoKey;
/** The WebCrypto provider as @peculiar/x509 types it. */
type X509Crypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1]>;
const crypto = webcrypto as unknown as X509Crypto;
export const subtle = webcrypto.subtle;

export function pem(label: string, der: ArrayBuffer): string {
  const base64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${base64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(ecdsa, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function keyPem(keys: CryptoKeyPair): Promise<string> {
  return pem('PRIVATE KEY', await subtle.exportKey('pkcs8', keys.privateKey));
}

export interface Issued {
  readonly certPem: string;
  readonly keyPem: string;
}

export async function createCa(name: string, nowMs: number, validityDays: number): Promise<Issued & { readonly keys: CryptoKeyPair; readonly cert: x509.X509Certificate }> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: `CN=${name}`,
      notBefore: new Date(nowMs - CLOCK_SKEW_MS),
      notAfter: new Date(nowMs + validityDays * DAY_MS),
      signingAlgorithm: ecdsa,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { keys, cert, certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys) };
}

export interface Issuer {
  readonly cert: x509.X509Certificate;
  readonly privateKey: CryptoKey;
}

export async function issueLeaf(issuer: Issuer, cn: string, names: x509.JsonGeneralNames | null, server: boolean, nowMs: number, validityDays: number): Promise<Issued> {
  const keys = await newKeys();
  const usages = server ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.clientAuth];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(usages, false),
    await x509.AuthorityKeyIdentifierExtension.create(issuer.cert, false, crypto),
  ];
  if (names !== null) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject: `CN=${cn}`,
      issuer: issuer.cert.subject,
      notBefore: new Date(nowMs - CLOCK_SKEW_MS),
      notAfter: new Date(nowMs + validityDays * DAY_MS),
      signingAlgorithm: ecdsa,
      publicKey: keys.publicKey,
      signingKey: issuer.privateKey,
      extensions,
    },
    crypto,
  );
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys) };
}

