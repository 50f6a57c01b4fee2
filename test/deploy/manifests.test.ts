/**
 * The deployment files in deploy/ agree with the server they run
 * (docs/deployment.md): every flag and CONCORD_* variable they pass is in the
 * server's option table (src/server/config.ts) and the settings they produce
 * load; ports agree between the Services, the container and the flags; the
 * probes hit the real health paths; the Kubernetes start script, run with a
 * stub `concord`, builds --initial-cluster from the pod ordinals; the
 * Dockerfile copies what exists and runs the package's bin as a non-root user.
 * (No Docker engine or cluster here: the files are checked, not run.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { loadServerConfig, serverConfigOptions, ServerExitCode, type ServerConfig } from '../../src/server/index.js';
import { healthEndpoint, type HealthInputs } from '../../src/server/health.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const k8sDir = join(repoRoot, 'deploy', 'kubernetes');

const flagTable = new Map(serverConfigOptions.map((o) => [o.flag, o]));
const envTable = new Map(serverConfigOptions.map((o) => [o.env, o]));

type Obj = Record<string, any>;

function k8sObjects(): Obj[] {
  const out: Obj[] = [];
  for (const file of readdirSync(k8sDir).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(readFileSync(join(k8sDir, file), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file} parses`);
      const value = doc.toJS() as Obj | null;
      if (value !== null) out.push({ ...value, __file: file });
    }
  }
  return out;
}

function one(objects: Obj[], kind: string, name?: string): Obj {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  assert.equal(found.length, 1, `exactly one ${kind}${name ? ` ${name}` : ''}`);
  return found[0]!;
}

/** Flags and values from an argument list, checked against the option table. */
function flagsOf(args: readonly string[]): Record<string, string | boolean> {
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    assert.ok(arg.startsWith('--'), `"${arg}" is a flag`);
    const option = flagTable.get(arg);
    assert.ok(option !== undefined, `${arg} is a flag of concord server (src/server/config.ts)`);
    if (option.kind === 'boolean') flags[option.key] = true;
    else {
      const value = args[++i];
      assert.ok(value !== undefined && !value.startsWith('--'), `${arg} has a value`);
      flags[option.key] = value;
    }
  }
  return flags;
}

const portOf = (url: string): number => Number(/:(\d+)\/?$/.exec(url)?.[1]);

/** Runs the StatefulSet's start script for one pod with a stub `concord` that records its arguments. */
function runStartScript(script: string, podName: string, env: Record<string, string>): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'concord-deploy-test-'));
  try {
    const out = join(dir, 'args');
    writeFileSync(join(dir, 'concord'), `#!/bin/sh\nprintf '%s\\n' "$@" > "${out}"\n`);
    writeFileSync(join(dir, 'getent'), '#!/bin/sh\nexit 0\n');
    chmodSync(join(dir, 'concord'), 0o755);
    chmodSync(join(dir, 'getent'), 0o755);
    const result = spawnSync('/bin/sh', ['-ec', script], {
      env: { ...env, POD_NAME: podName, POD_NAMESPACE: 'prod', PATH: `${dir}:/usr/bin:/bin` },
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(result.status, 0, `the start script runs: ${result.stderr}`);
    const args = readFileSync(out, 'utf8').split('\n');
    args.pop();
    return args;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('Kubernetes: the StatefulSet runs concord server with real flags; ports, Services, probes and the PDB agree', () => {
  const objects = k8sObjects();
  const sts = one(objects, 'StatefulSet');
  const pod = sts.spec.template;
  const podLabels = pod.metadata.labels as Obj;
  const matches = (selector: Obj): boolean => Object.entries(selector).every(([k, v]) => podLabels[k] === v);
  assert.ok(matches(sts.spec.selector.matchLabels), 'the StatefulSet selects its pods');
  assert.equal(sts.spec.podManagementPolicy, 'Parallel', 'members start together (OrderedReady would wait for a ready concord-0, which needs a majority)');

  const headless = one(objects, 'Service', sts.spec.serviceName);
  assert.equal(headless.spec.clusterIP, 'None', 'serviceName is a headless Service');
  assert.equal(headless.spec.publishNotReadyAddresses, true, 'pod DNS names exist before the pods are ready');

  const container = (pod.spec.containers as Obj[]).find((c) => c.name === 'concord')!;
  const ports = new Map((container.ports as Obj[]).map((p) => [p.name as string, p.containerPort as number]));
  assert.deepEqual([...ports.keys()].sort(), ['client', 'metrics', 'peer']);

  // Every CONCORD_* variable is a server setting or one the start script reads.
  const script = (container.args as string[])[0]!;
  assert.deepEqual(container.command, ['/bin/sh', '-ec']);
  const env: Record<string, string> = {};
  for (const e of container.env as Obj[]) {
    if (typeof e.value === 'string') env[e.name] = e.value;
    if (String(e.name).startsWith('CONCORD_')) {
      assert.ok(envTable.has(e.name) || script.includes(`$${e.name}`), `${e.name} is a server setting or read by the start script`);
    }
  }
  const serverEnv = Object.fromEntries(Object.entries(env).filter(([k]) => envTable.has(k)));

  // The script, run for a bootstrap pod and for a pod added by scaling up.
  const domain = `${sts.spec.serviceName}.prod.svc.cluster.local`;
  const bootstrap = Number(env['CONCORD_BOOTSTRAP_MEMBERS']);
  assert.equal(bootstrap, sts.spec.replicas, 'the bootstrap size is the initial replica count');
  const configs: ServerConfig[] = [];
  for (const [podName, expectedMembers, state] of [
    ['concord-0', 3, 'new'],
    ['concord-2', 3, 'new'],
    ['concord-3', 4, 'existing'],
  ] as const) {
    const args = runStartScript(script, podName, env);
    assert.deepEqual(args.slice(0, 1), ['server']);
    const flags = flagsOf(args.slice(1));
    const config = loadServerConfig({ flags: flags as never, env: serverEnv });
    configs.push(config);
    assert.equal(config.name, podName);
    assert.equal(config.initialClusterState, state);
    assert.deepEqual(
      config.initialCluster,
      Object.fromEntries(Array.from({ length: expectedMembers }, (_, i) => [`concord-${i}`, `tls://concord-${i}.${domain}:${ports.get('peer')}`])),
      'the initial cluster is built from the pod ordinals and stable DNS names',
    );
    assert.equal(config.initialCluster[podName], config.peerUrl, 'the member is in its initial cluster under its own peer URL');
    assert.equal(config.clientUrl, `tls://${podName}.${domain}:${ports.get('client')}`);
    assert.equal(portOf(config.peerUrl), ports.get('peer'));
    assert.equal(portOf(config.metricsUrl!), ports.get('metrics'));
    // TLS files and the data dir are on mounted volumes.
    const mounts = (container.volumeMounts as Obj[]).map((m) => m.mountPath as string);
    for (const path of [config.certFile, config.keyFile, config.peerCertFile, config.peerKeyFile, config.peerTrustedCaFile, config.dataDir]) {
      assert.ok(path !== undefined && mounts.some((m) => path.startsWith(`${m}/`)), `${path} is on a mounted volume`);
    }
  }
  assert.ok(configs.every((c) => c.logFormat === 'json'));

  // Services: selectors match the pods; every port targets a container port by name and uses its number.
  const services = objects.filter((o) => o.kind === 'Service');
  assert.ok(services.length >= 2, 'a headless peer Service and a client Service');
  for (const service of services) {
    assert.ok(matches(service.spec.selector), `Service ${service.metadata.name} selects the pods`);
    for (const port of service.spec.ports as Obj[]) {
      const target = ports.get(port.targetPort);
      assert.ok(target !== undefined, `Service ${service.metadata.name} port ${port.name} targets a container port`);
      assert.equal(port.port, target, `Service ${service.metadata.name} port ${port.name} is the container's`);
    }
  }
  assert.ok(
    services.some((s) => s.spec.clusterIP !== 'None' && (s.spec.ports as Obj[]).some((p) => p.targetPort === 'client')),
    'a client Service',
  );

  // Probes: /readyz and /livez on the metrics port, and those are the server's health paths.
  assert.equal(container.readinessProbe.httpGet.path, '/readyz');
  assert.equal(container.livenessProbe.httpGet.path, '/livez');
  for (const probe of [container.readinessProbe, container.livenessProbe]) assert.equal(probe.httpGet.port, 'metrics');
  const healthy: HealthInputs = { leaderId: () => 'concord-0', commitIndex: () => 5, appliedIndex: () => 5, storageFailed: () => false, sinceLastTickMs: () => 0, liveTickGapMaxMs: 2000 };
  const noLeader: HealthInputs = { ...healthy, leaderId: () => null };
  for (const probe of [container.readinessProbe, container.livenessProbe]) {
    const answer = healthEndpoint(probe.httpGet.path, new URLSearchParams(), healthy);
    assert.ok(answer !== null, `${probe.httpGet.path} is served`);
    assert.equal(answer.status, 200);
  }
  assert.equal(healthEndpoint('/readyz', new URLSearchParams(), noLeader)?.status, 503, 'readiness needs a leader');
  assert.equal(healthEndpoint('/livez', new URLSearchParams(), noLeader)?.status, 200, 'liveness does not (a restart would not bring one)');

  // Data volume; non-root; the PDB keeps a majority.
  assert.ok((sts.spec.volumeClaimTemplates as Obj[]).some((v) => v.metadata.name === 'data'));
  assert.equal(pod.spec.securityContext.runAsNonRoot, true);
  const pdb = one(objects, 'PodDisruptionBudget');
  assert.ok(matches(pdb.spec.selector.matchLabels), 'the PDB covers the pods');
  const replicas = sts.spec.replicas as number;
  assert.ok(replicas - pdb.spec.maxUnavailable >= Math.floor(replicas / 2) + 1, 'a disruption never takes the majority');

  // kustomization.yaml lists every manifest.
  const kustomization = one(objects, 'Kustomization');
  assert.deepEqual(
    [...(kustomization.resources as string[])].sort(),
    readdirSync(k8sDir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort(),
  );
});

/** Dockerfile instructions with continuations joined. */
function dockerInstructions(text: string): { op: string; rest: string }[] {
  const out: { op: string; rest: string }[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    pending += (pending === '' ? '' : ' ') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) continue;
    const [op, ...rest] = pending.split(/\s+/);
    out.push({ op: op!.toUpperCase(), rest: rest.join(' ') });
    pending = '';
  }
  return out;
}

test('Dockerfile: node:20-slim, copies what exists, installs the packed package without dev dependencies, runs the bin as non-root', () => {
  const text = readFileSync(join(repoRoot, 'deploy', 'docker', 'Dockerfile'), 'utf8');
  const steps = dockerInstructions(text);
  const from = steps.filter((s) => s.op === 'FROM');
  assert.ok(from.length >= 1 && from.every((s) => s.rest.startsWith('node:20-slim')), 'every stage is node:20-slim');
  for (const copy of steps.filter((s) => s.op === 'COPY' && !s.rest.includes('--from='))) {
    const parts = copy.rest.split(/\s+/);
    for (const source of parts.slice(0, -1)) assert.ok(existsSync(join(repoRoot, source)), `COPY source ${source} exists in the repository`);
  }
  const run = steps.filter((s) => s.op === 'RUN').map((s) => s.rest).join('\n');
  assert.match(run, /npm pack/);
  assert.match(run, /npm ci --omit=dev/);
  const users = steps.filter((s) => s.op === 'USER');
  assert.ok(users.length > 0 && !['root', '0'].includes(users.at(-1)!.rest), 'the last USER is not root');
  assert.match(steps.find((s) => s.op === 'VOLUME')?.rest ?? '', /\/var\/lib\/concord/);
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: { concord: string }; files: string[] };
  const entrypoint = JSON.parse(steps.find((s) => s.op === 'ENTRYPOINT')!.rest) as string[];
  assert.ok(entrypoint.some((a) => a.endsWith(`/${pkg.bin.concord}`)), `the entrypoint runs the package's bin ${pkg.bin.concord}`);
  assert.ok(pkg.files.includes('bin') && pkg.files.includes('dist/src'), 'the packed package holds the bin and the compiled code');
  assert.deepEqual(JSON.parse(steps.find((s) => s.op === 'CMD')!.rest), ['server']);
  // ENV settings are server settings; exposed ports are the Kubernetes container ports.
  for (const env of steps.filter((s) => s.op === 'ENV')) {
    for (const [, name] of env.rest.matchAll(/(CONCORD_[A-Z_]+)=/g)) assert.ok(envTable.has(name!), `${name} is a server setting`);
  }
  const exposed = steps.find((s) => s.op === 'EXPOSE')!.rest.split(/\s+/).map(Number).sort();
  const sts = one(k8sObjects(), 'StatefulSet');
  const containerPorts = ((sts.spec.template.spec.containers as Obj[])[0]!.ports as Obj[]).map((p) => p.containerPort as number).sort();
  assert.deepEqual(exposed, containerPorts);
  // The image's uid is the one the StatefulSet runs as.
  assert.match(run, new RegExp(`--uid ${sts.spec.template.spec.securityContext.runAsUser}\\b`));
  assert.ok(existsSync(join(repoRoot, 'deploy', 'docker', 'Dockerfile.dockerignore')));
});

test('systemd: the unit runs concord server from the env file, whose settings load; a storage failure is not restarted', () => {
  const unit = readFileSync(join(repoRoot, 'deploy', 'systemd', 'concord.service'), 'utf8');
  const settings = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) settings.set(m[1]!, [...(settings.get(m[1]!) ?? []), m[2]!]);
  }
  const exec = settings.get('ExecStart')![0]!.split(/\s+/);
  assert.match(exec[0]!, /\/concord$/);
  assert.equal(exec[1], 'server');
  flagsOf(exec.slice(2));
  assert.deepEqual(settings.get('RestartPreventExitStatus'), [String(ServerExitCode.StorageFailed)]);
  assert.equal(settings.get('KillSignal')?.[0], 'SIGTERM', 'SIGTERM is the graceful shutdown');
  assert.ok(settings.get('User')?.[0] !== 'root');
  assert.ok((settings.get('ReadWritePaths') ?? []).some((p) => p.includes('/var/lib/concord')));

  const envText = readFileSync(join(repoRoot, 'deploy', 'systemd', 'concord.env'), 'utf8');
  const env: Record<string, string> = {};
  for (const line of envText.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = line.slice(0, eq);
    assert.ok(envTable.has(name), `${name} is a server setting`);
    env[name] = line.slice(eq + 1);
  }
  const config = loadServerConfig({ flags: {}, env });
  assert.equal(config.initialCluster[config.name], config.peerUrl);
  assert.ok(config.dataDir.startsWith('/var/lib/concord/'));
  assert.equal(portOf(config.clientUrl), 7001);
  assert.equal(portOf(config.peerUrl), 7101);
  assert.ok(config.peerTrustedCaFile !== undefined && config.peerUrl.startsWith('tls://'), 'members talk mutual TLS');
});
