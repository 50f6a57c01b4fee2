/**
 * Whether a verified peer certificate names a member (issue 12 §1): its CN,
 * or one of its DNS SANs, equals the member name, exactly (no wildcards: a
 * member name is an identity, not a host pattern). The server calls it on
 * every authenticated peer connection and refuses frames whose `from` is not
 * the name the certificate proved.
 */
import { commonNameOf, type CertificateSubject } from './authenticator.js';

/** The parts of node:tls's PeerCertificate read here. */
export interface PeerCertificateNames extends CertificateSubject {
  /** As node:tls gives it: "DNS:n1, DNS:localhost, IP Address:127.0.0.1". */
  readonly subjectaltname?: string;
}

/** The DNS names among a certificate's SANs. */
export function dnsNamesOf(certificate: PeerCertificateNames): string[] {
  const sans = certificate.subjectaltname;
  if (typeof sans !== 'string') return [];
  const out: string[] = [];
  for (const part of sans.split(',')) {
    const item = part.trim();
    if (item.startsWith('DNS:')) out.push(item.slice(4));
  }
  return out;
}

export function certificateNamesMember(certificate: PeerCertificateNames | null | undefined, member: string): boolean {
  if (certificate === null || certificate === undefined || member.length === 0) return false;
  return commonNameOf(certificate) === member || dnsNamesOf(certificate).includes(member);
}

/**
 * The member names a certificate may speak for, among `members` (normally
 * exactly one; several only if a certificate names several members, which
 * the server should refuse as ambiguous).
 */
export function membersNamedBy(certificate: PeerCertificateNames | null | undefined, members: Iterable<string>): string[] {
  const out: string[] = [];
  for (const m of members) if (certificateNamesMember(certificate, m)) out.push(m);
  return out;
}
