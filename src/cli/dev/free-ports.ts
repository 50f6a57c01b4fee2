/**
 * Finds `count` consecutive free TCP ports on 127.0.0.1 (for `concord dev`,
 * which numbers its members' ports from a base), so that end-to-end tests
 * never collide with a real dev cluster or with each other.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * The lowest port of the kernel's ephemeral range (Linux; 32768 elsewhere).
 * Ports from that range can be taken at any moment as the source port of an
 * outgoing connection, e.g. between our check and a member's bind, or while
 * a restarted member is down: so members never listen there.
 */
function ephemeralPortLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 1024 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** One free port on 127.0.0.1, below the ephemeral range. */
export function freePort(): Promise<number> {
  return freePortRange(1, 0);
}

/** A base port such that base..base+count-1 and base+offset..base+offset+count-1 are all free. */
export async function freePortRange(count: number, offset: number): Promise<number> {
  const low = 10_000;
  const high = Math.max(low + 1, ephemeralPortLow() - offset - count);
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = low + Math.floor(Math.random() * (high - low));
    let free = true;
    for (let i = 0; i < count && free; i++) {
      free = (await canListen(base + i)) && (await canListen(base + offset + i));
    }
    if (free) return base;
  }
  throw new Error('no free port range found');
}
