/**
 * A child process for test/net/inbound-bounds.test.ts: opens `idle` connections
 * that send nothing and `trickle` connections that announce a 16 MiB frame,
 * send `burstBytes` of it at once and then 16 bytes every 500 ms, and waits
 * until the server has closed every one of them. Prints one JSON line:
 * { opened, closedByServer, failedToOpen }. In its own process so that its
 * sockets do not count against the test process's descriptors.
 *   node flood-agent.js HOST PORT IDLE TRICKLE BURST_BYTES
 */
import net from 'node:net';

const [host, portText, idleText, trickleText, burstText] = process.argv.slice(2);
const port = Number(portText);
const idle = Number(idleText);
const trickle = Number(trickleText);
const burstBytes = Number(burstText);
const concurrency = 256;

let opened = 0;
let closed = 0;
let failedToOpen = 0;
const timers = new Set<NodeJS.Timeout>();

function open(trickling: boolean): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let connected = false;
    socket.on('connect', () => {
      connected = true;
      opened++;
      resolve();
      if (!trickling) return;
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(16 * 1024 * 1024);
      socket.write(Buffer.concat([prefix, Buffer.alloc(burstBytes, 7)]));
      const timer = setInterval(() => socket.write(Buffer.alloc(16, 7)), 500);
      timers.add(timer);
      socket.on('close', () => {
        clearInterval(timer);
        timers.delete(timer);
      });
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (connected) closed++;
      else {
        failedToOpen++;
        resolve();
      }
      check();
    });
  });
}

let launched = false;
function check(): void {
  if (launched && closed + failedToOpen >= idle + trickle) {
    process.stdout.write(JSON.stringify({ opened, closedByServer: closed, failedToOpen }) + '\n');
    process.exit(0);
  }
}

const kinds: boolean[] = [];
// Interleave: trickling connections spread among the idle ones.
for (let i = 0; i < idle + trickle; i++) kinds.push(trickle > 0 && i % Math.ceil((idle + trickle) / trickle) === 0 && kinds.filter(Boolean).length < trickle);
while (kinds.filter(Boolean).length < trickle) kinds[kinds.indexOf(false)] = true;
let next = 0;
async function worker(): Promise<void> {
  while (next < kinds.length) await open(kinds[next++]!);
}
await Promise.all(Array.from({ length: concurrency }, worker));
launched = true;
process.stdout.write(JSON.stringify({ launched: true, opened }) + '\n');
check();
