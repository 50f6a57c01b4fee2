/** Redis's glob-style matching (util.c stringmatchlen): `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x`. */
export function globMatch(pattern: Uint8Array, subject: Uint8Array, nocase = false): boolean {
  return matchFrom(pattern, 0, subject, 0, nocase);
}

const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 32 : c);

function matchFrom(p: Uint8Array, pi: number, s: Uint8Array, si: number, nocase: boolean): boolean {
  const eq = (a: number, b: number): boolean => (nocase ? lower(a) === lower(b) : a === b);
  while (pi < p.length) {
    const c = p[pi]!;
    if (c === 0x2a /* * */) {
      while (pi + 1 < p.length && p[pi + 1] === 0x2a) pi++;
      if (pi + 1 === p.length) return true;
      for (let k = si; k <= s.length; k++) if (matchFrom(p, pi + 1, s, k, nocase)) return true;
      return false;
    }
    if (si >= s.length) return false;
    if (c === 0x3f /* ? */) {
      si++;
      pi++;
      continue;
    }
    if (c === 0x5b /* [ */) {
      pi++;
      const not = p[pi] === 0x5e;
      if (not) pi++;
      let matched = false;
      for (;;) {
        if (pi >= p.length) {
          pi--;
          break;
        }
        const d = p[pi]!;
        if (d === 0x5c && pi + 1 < p.length) {
          pi++;
          if (eq(p[pi]!, s[si]!)) matched = true;
        } else if (d === 0x5d) break;
        else if (pi + 2 < p.length && p[pi + 1] === 0x2d) {
          let lo = p[pi]!;
          let hi = p[pi + 2]!;
          if (lo > hi) [lo, hi] = [hi, lo];
          const x = nocase ? lower(s[si]!) : s[si]!;
          if (x >= (nocase ? lower(lo) : lo) && x <= (nocase ? lower(hi) : hi)) matched = true;
          pi += 2;
        } else if (eq(d, s[si]!)) matched = true;
        pi++;
      }
      if (not) matched = !matched;
      if (!matched) return false;
      pi++;
      si++;
      continue;
    }
    if (c === 0x5c /* \ */ && pi + 1 < p.length) pi++;
    if (!eq(p[pi]!, s[si]!)) return false;
    pi++;
    si++;
  }
  return si === s.length;
}
