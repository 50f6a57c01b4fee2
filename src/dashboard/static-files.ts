/**
 * The page and its modules: src/dashboard/static (plain ES modules, no build
 * step) and the few browser packages it imports, served from node_modules
 * through the page's import map, never from a CDN. Only the files listed
 * here are served, so no path from a request ever reaches the file system.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StaticFile {
  readonly contentType: string;
  readonly body: Buffer;
}

/** Compiled to dist/src/dashboard/: the static files stay in the source tree beside it. */
const staticDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src', 'dashboard', 'static');
const require = createRequire(import.meta.url);

/** A file of an installed package (found from its entry point: not every package exports its package.json). */
function packageFile(pkg: string, file: string): string {
  const marker = `${sep}node_modules${sep}${pkg}${sep}`;
  const entry = require.resolve(pkg);
  const at = entry.lastIndexOf(marker);
  if (at < 0) throw new Error(`the dashboard cannot find the package ${pkg} (resolved to ${entry})`);
  return join(entry.slice(0, at + marker.length), file);
}

const types: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  html: 'text/html; charset=utf-8',
  svg: 'image/svg+xml',
};

/** URL under /ui/ → file on disk. */
function fileTable(): Map<string, string> {
  const table = new Map<string, string>();
  for (const name of ['app.js', 'api.js', 'html.js', 'cluster.js', 'keys.js', 'load.js', 'format.js', 'members.js', 'sessions.js', 'style.css']) table.set(`/ui/${name}`, join(staticDir, name));
  table.set('/ui/vendor/preact.js', packageFile('preact', 'dist/preact.module.js'));
  table.set('/ui/vendor/preact-hooks.js', packageFile('preact', 'hooks/dist/hooks.module.js'));
  table.set('/ui/vendor/htm.js', packageFile('htm', 'dist/htm.module.js'));
  table.set('/ui/vendor/uplot.js', packageFile('uplot', 'dist/uPlot.esm.js'));
  table.set('/ui/vendor/uplot.css', packageFile('uplot', 'dist/uPlot.min.css'));
  return table;
}

const importMap = JSON.stringify({
  imports: {
    preact: '/ui/vendor/preact.js',
    'preact/hooks': '/ui/vendor/preact-hooks.js',
    htm: '/ui/vendor/htm.js',
    uplot: '/ui/vendor/uplot.js',
  },
});

/** The one inline script (the import map) is allowed by its hash; nothing else inline runs. */
const importMapHash = createHash('sha256').update(importMap).digest('base64');

export const contentSecurityPolicy = [
  "default-src 'none'",
  `script-src 'self' 'sha256-${importMapHash}'`,
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function indexHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Concord dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/vendor/uplot.css">
<link rel="stylesheet" href="/ui/style.css">
<script type="importmap">${importMap}</script>
<script type="module" src="/ui/app.js"></script>
</head>
<body>
<div id="app"><p class="loading">Loading the Concord dashboard…</p></div>
<noscript>The Concord dashboard needs JavaScript.</noscript>
</body>
</html>
`;
}

export class StaticFiles {
  private readonly table = fileTable();
  private readonly cache = new Map<string, StaticFile>();
  private readonly index: StaticFile = { contentType: types.html!, body: Buffer.from(indexHtml()) };

  /** The file for a GET of `pathname`, or null when there is none. */
  lookup(pathname: string): StaticFile | null {
    if (pathname === '/ui' || pathname === '/ui/') return this.index;
    const path = this.table.get(pathname);
    if (path === undefined) return null;
    let file = this.cache.get(pathname);
    if (file === undefined) {
      const ext = path.slice(path.lastIndexOf('.') + 1);
      file = { contentType: types[ext] ?? 'application/octet-stream', body: readFileSync(path) };
      this.cache.set(pathname, file);
    }
    return file;
  }
}
