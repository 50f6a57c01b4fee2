/**
 * Where CLI commands connect: `--endpoints`, else the CONCORD_ENDPOINTS
 * environment variable, else the three client URLs `concord dev` uses.
 */
export const endpointsEnv = 'CONCORD_ENDPOINTS';
export const devHost = '127.0.0.1';
export const devClientPortBase = 7001;
export const devPeerPortBase = 7101;

export const defaultDevEndpoints: readonly string[] = [0, 1, 2].map((i) => `tcp://${devHost}:${devClientPortBase + i}`);

export function parseEndpointList(text: string): string[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}

export function resolveEndpoints(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  if (flag !== undefined && flag.trim() !== '') return parseEndpointList(flag);
  const fromEnv = env[endpointsEnv];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return parseEndpointList(fromEnv);
  return [...defaultDevEndpoints];
}
