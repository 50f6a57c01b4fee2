/**
 * Splits an inline command line into arguments the way Redis's sdssplitargs does, so that
 * `redis-cli`-style typed input (`SET "a b" 'c\'d' "\x41\n"`) means here what it means to Redis.
 *
 * Rules (Redis's): whitespace separates arguments; "double quotes" take the escapes \n \r \t \b \a,
 * \xHH and \<any>; 'single quotes' take only \'; a closing quote must be followed by whitespace or
 * the end of the line; an unterminated quote is an error (null). A quote may open mid-token
 * (a"b c" is the one argument `ab c`). A NUL byte ends the line, as the C string it is in Redis.
 */

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

const escapes: Record<number, number> = { 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x62: 0x08, 0x61: 0x07 };

/** The arguments of `line[start, end)`, or null for unbalanced quotes. */
export function splitInlineArgs(line: Uint8Array, start = 0, end = line.length): Buffer[] | null {
  const nul = line.indexOf(0, start);
  if (nul !== -1 && nul < end) end = nul;
  // 0 stands for the C string's terminating NUL past the end.
  const at = (i: number): number => (i < end ? line[i]! : 0);
  const args: Buffer[] = [];
  let p = start;
  for (;;) {
    while (p < end && isSpace(line[p]!)) p++;
    if (p >= end) return args;
    const current: number[] = [];
    let inDouble = false;
    let inSingle = false;
    let done = false;
    while (!done) {
      const c = at(p);
      if (inDouble) {
        if (c === 0x5c && at(p + 1) === 0x78 && hexValue(at(p + 2)) >= 0 && hexValue(at(p + 3)) >= 0) {
          current.push(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3)));
          p += 3;
        } else if (c === 0x5c && p + 1 < end) {
          p++;
          const e = at(p);
          current.push(escapes[e] ?? e);
        } else if (c === 0x22) {
          if (p + 1 < end && !isSpace(at(p + 1))) return null;
          done = true;
        } else if (p >= end) {
          return null;
        } else {
          current.push(c);
        }
      } else if (inSingle) {
        if (c === 0x5c && at(p + 1) === 0x27) {
          p++;
          current.push(0x27);
        } else if (c === 0x27) {
          if (p + 1 < end && !isSpace(at(p + 1))) return null;
          done = true;
        } else if (p >= end) {
          return null;
        } else {
          current.push(c);
        }
      } else if (p >= end || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        done = true;
      } else if (c === 0x22) {
        inDouble = true;
      } else if (c === 0x27) {
        inSingle = true;
      } else {
        current.push(c);
      }
      if (p < end) p++;
    }
    args.push(Buffer.from(current));
  }
}
