/**
 * Address strings pick the transport:
 *   tcp://host:port      (IPv6 as tcp://[::1]:port; port 0 = any free port when listening)
 *   tls://host:port      (TCP + TLS, see TlsOptions)
 *   unix:///path/to.sock (a named pipe \\.\pipe\path\to.sock on Windows)
 *   mem://name           (in-process, no sockets)
 */
import { InvalidAddressError } from './errors.js';

export const Transport = {
  Tcp: 'tcp',
  Tls: 'tls',
  Unix: 'unix',
  Mem: 'mem',
} as const;
export type Transport = (typeof Transport)[keyof typeof Transport];

export type ParsedAddress =
  | { readonly transport: 'tcp' | 'tls'; readonly host: string; readonly port: number }
  | { readonly transport: 'unix'; readonly path: string }
  | { readonly transport: 'mem'; readonly name: string };

export function parseAddress(address: string): ParsedAddress {
  const match = /^([a-z]+):\/\/(.*)$/.exec(address);
  if (!match) throw new InvalidAddressError(address, 'expected tcp://, tls://, unix:// or mem://');
  const scheme = match[1]!;
  const rest = match[2]!;
  switch (scheme) {
    case 'tcp':
    case 'tls': {
      const hostPort = /^(?:\[([0-9a-fA-F:.]+)\]|([^:/\[\]]+)):(\d{1,5})$/.exec(rest);
      if (!hostPort) throw new InvalidAddressError(address, 'expected host:port');
      const port = Number(hostPort[3]);
      if (port > 65535) throw new InvalidAddressError(address, 'port out of range');
      return { transport: scheme, host: hostPort[1] ?? hostPort[2]!, port };
    }
    case 'unix':
      if (rest === '') throw new InvalidAddressError(address, 'expected a socket path');
      return { transport: 'unix', path: rest };
    case 'mem':
      if (rest === '') throw new InvalidAddressError(address, 'expected a name');
      return { transport: 'mem', name: rest };
    default:
      throw new InvalidAddressError(address, `unknown transport ${scheme}`);
  }
}

export function formatAddress(address: ParsedAddress): string {
  switch (address.transport) {
    case 'tcp':
    case 'tls':
      return `${address.transport}://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
    case 'unix':
      return `unix://${address.path}`;
    case 'mem':
      return `mem://${address.name}`;
  }
}

/** The path node:net listens on / connects to for a unix:// address (a named pipe on Windows). */
export function localSocketPath(path: string, platform: string = process.platform): string {
  if (platform !== 'win32') return path;
  if (path.startsWith('\\\\.\\pipe\\') || path.startsWith('\\\\?\\pipe\\')) return path;
  return `\\\\.\\pipe\\${path.replace(/^[\\/]+/, '').replace(/\//g, '\\')}`;
}
