/**
 * The fault suite's private network: one namespace per member and one for the
 * workload's clients, each joined by a veth pair to a bridge that lives in a
 * namespace of its own, so nothing is added to the host's namespace and no
 * address exists outside the namespaces made here (10.77.0.0/24 only inside
 * them).
 *
 * Names carry the owner's PID (`cfz-<pid>-n1`, `cfz-<pid>-br`, `cfz-<pid>-c`):
 * a run removes its own by PID, and a start-up pass removes leftovers of runs
 * whose PID is gone (a crashed or killed suite).
 *
 * Faults are made without iptables/nft (absent here) and without netem or tc
 * classifiers (this kernel has neither):
 * - a drop from member a to member b is a permanent neighbour entry in a's
 *   namespace that maps b's address to a MAC nobody owns: a's packets to b
 *   leave and are silently discarded, exactly like `iptables -j DROP` on a's
 *   output (connections hang, nothing is refused);
 * - a partition is drops both ways between every pair across the cut;
 * - `ip link set eth0 down` cuts a member off entirely (clients included).
 */
import { execFileSync } from 'node:child_process';

export const namePrefix = 'cfz-';
const subnet = '10.77.0';
/** A locally administered unicast MAC that no interface here has: frames to it are dropped. */
const nowhereMac = '02:cf:00:00:00:01';

export interface NetnsError extends Error {
  readonly stderr?: string;
}

function ip(args: readonly string[], options: { allowFail?: boolean } = {}): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    if (options.allowFail === true) return '';
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`ip ${args.join(' ')} failed: ${stderr}`);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

/** Our namespaces, as `ip netns list` names them. */
function listNamespaces(): string[] {
  return ip(['netns', 'list'], { allowFail: true })
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.startsWith(namePrefix));
}

/** Kills every process left inside `ns` (by PID, as the kernel lists them) and deletes it. */
function removeNamespace(ns: string): void {
  for (const line of ip(['netns', 'pids', ns], { allowFail: true }).split('\n')) {
    const pid = Number(line.trim());
    if (Number.isSafeInteger(pid) && pid > 1) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  ip(['netns', 'del', ns], { allowFail: true });
}

/**
 * Removes namespaces left by suite runs whose process is gone (or, with
 * `ownerPid`, those of that one run). Returns the names removed.
 */
export function removeStaleNamespaces(ownerPid?: number): string[] {
  const removed: string[] = [];
  for (const ns of listNamespaces()) {
    const match = /^cfz-(\d+)-/.exec(ns);
    const pid = match ? Number(match[1]) : NaN;
    const stale = ownerPid !== undefined ? pid === ownerPid : !Number.isSafeInteger(pid) || !pidAlive(pid) || pid === process.pid;
    if (!stale) continue;
    removeNamespace(ns);
    removed.push(ns);
  }
  return removed;
}

/** Why this machine cannot run the suite, or null when it can (root, and `ip netns add` works). */
export function unavailableReason(): string | null {
  if (process.platform !== 'linux') return `needs Linux network namespaces (platform is ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root (to create network namespaces)';
  const probe = `${namePrefix}${process.pid}-probe`;
  try {
    ip(['netns', 'add', probe]);
  } catch (error) {
    return `\`ip netns add\` failed: ${(error as Error).message}`;
  } finally {
    ip(['netns', 'del', probe], { allowFail: true });
  }
  return null;
}

export interface NetMember {
  readonly name: string;
  readonly ns: string;
  readonly address: string;
}

/** The bridge, the members' namespaces and the client namespace of one run. */
export class FaultNetwork {
  readonly members: readonly NetMember[];
  readonly clientNs: string;
  readonly clientAddress = `${subnet}.100`;
  private readonly bridgeNs: string;
  private readonly runTag: string;
  /** Directed drops in force: "a>b" means a's packets to b are dropped. */
  private readonly drops = new Set<string>();
  private readonly linksDown = new Set<string>();
  private created = false;

  constructor(memberNames: readonly string[], runId: number) {
    this.runTag = `${namePrefix}${process.pid}-${runId}`;
    this.bridgeNs = `${this.runTag}-br`;
    this.clientNs = `${this.runTag}-c`;
    this.members = memberNames.map((name, i) => ({ name, ns: `${this.runTag}-${name}`, address: `${subnet}.${i + 1}` }));
  }

  member(name: string): NetMember {
    const m = this.members.find((x) => x.name === name);
    if (m === undefined) throw new Error(`no member ${name}`);
    return m;
  }

  create(): void {
    this.created = true;
    ip(['netns', 'add', this.bridgeNs]);
    ip(['-n', this.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', this.bridgeNs, 'link', 'set', 'br0', 'up']);
    const hosts = [...this.members.map((m) => ({ ns: m.ns, address: m.address })), { ns: this.clientNs, address: this.clientAddress }];
    hosts.forEach((host, i) => {
      const port = `p${i}`;
      ip(['netns', 'add', host.ns]);
      ip(['-n', this.bridgeNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns]);
      ip(['-n', this.bridgeNs, 'link', 'set', port, 'master', 'br0', 'up']);
      ip(['-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
      ip(['-n', host.ns, 'link', 'set', 'eth0', 'up']);
      ip(['-n', host.ns, 'link', 'set', 'lo', 'up']);
    });
  }

  /** Drops `from`'s packets to `to` (one way). */
  drop(from: string, to: string): void {
    const key = `${from}>${to}`;
    if (this.drops.has(key)) return;
    const a = this.member(from);
    ip(['-n', a.ns, 'neigh', 'replace', this.member(to).address, 'lladdr', nowhereMac, 'dev', 'eth0', 'nud', 'permanent']);
    this.drops.add(key);
  }

  undrop(from: string, to: string): void {
    const key = `${from}>${to}`;
    if (!this.drops.delete(key)) return;
    // Deleting the entry lets ARP learn the real MAC again on the next packet.
    ip(['-n', this.member(from).ns, 'neigh', 'del', this.member(to).address, 'dev', 'eth0'], { allowFail: true });
  }

  /** Cuts every link between a member of `a` and a member of `b`, both ways. */
  cut(a: readonly string[], b: readonly string[]): void {
    for (const x of a) {
      for (const y of b) {
        if (x === y) continue;
        this.drop(x, y);
        this.drop(y, x);
      }
    }
  }

  setLink(name: string, up: boolean): void {
    ip(['-n', this.member(name).ns, 'link', 'set', 'eth0', up ? 'up' : 'down']);
    if (up) this.linksDown.delete(name);
    else this.linksDown.add(name);
  }

  /** Removes every fault: all drops, all links up. */
  heal(): void {
    for (const key of [...this.drops]) {
      const [from, to] = key.split('>') as [string, string];
      this.undrop(from, to);
    }
    for (const name of [...this.linksDown]) this.setLink(name, true);
  }

  describeFaults(): string {
    return [...[...this.drops].map((d) => `drop ${d}`), ...[...this.linksDown].map((n) => `link-down ${n}`)].join(', ') || 'none';
  }

  /** Deletes every namespace of this run (killing whatever still runs inside). Idempotent. */
  destroy(): void {
    if (!this.created) return;
    this.created = false;
    for (const ns of [this.clientNs, ...this.members.map((m) => m.ns), this.bridgeNs]) removeNamespace(ns);
  }
}
