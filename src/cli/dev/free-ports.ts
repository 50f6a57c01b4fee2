/**
 * Finds `count` consecutive free TCP ports on 127.0.0.1 (for `concord dev`,
 * which numbers its members' ports from a base), so that end-to-end tests
 * never collide with a real dev cluster or with each other.
 */
import net from 'node:net';

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A base port such that base..base+count-1 and base+offset..base+offset+count-1 are all free. */
export async function freePortRange(count: number, offset: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let free = true;
    for (let i = 0; i < count && free; i++) {
      free = (await canListen(base + i)) && (await canListen(base + offset + i));
    }
    if (free) return base;
  }
  throw new Error('no free port range found');
}
