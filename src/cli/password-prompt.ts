/**
 * Reading a password: from a terminal without echo (the prompt on stderr, so
 * stdout stays the command's output), or one line from stdin
 * (`--password-stdin`, for scripts).
 */
import { CliExit, ExitCode } from './exit-codes.js';

/** Longest password line accepted (the server's bound is lower; this only stops a runaway pipe). */
export const passwordLineBytesMax = 64 * 1024;

/** Asks `question` on the terminal and reads one line without echoing it. stdin must be a TTY. */
export function readHiddenLine(question: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    process.stderr.write(question);
    let line = '';
    const wasRaw = stdin.isRaw;
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    const finish = (): void => {
      stdin.setRawMode(wasRaw);
      stdin.removeListener('data', onData);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          resolve(line);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new CliExit(ExitCode.Usage, 'interrupted'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
        if (line.length > passwordLineBytesMax) {
          finish();
          reject(new CliExit(ExitCode.Usage, 'password line too long'));
          return;
        }
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

/** The first line of stdin (without its line ending), for --password-stdin. */
export async function readStdinLine(stream: NodeJS.ReadableStream = process.stdin): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    const end = text.search(/\r?\n/);
    if (end >= 0) return text.slice(0, end);
    if (text.length > passwordLineBytesMax) throw new CliExit(ExitCode.Usage, 'password line too long');
  }
  return text;
}
