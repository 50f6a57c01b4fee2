/**
 * Entry point of the `concord` command (bin/concord.js imports this module):
 * runs the command line and exits with its code. Long-running commands
 * (server, dev) resolve only when they are done, so exiting here never cuts
 * them short; it does stop stray handles from keeping a finished one-shot
 * command alive.
 */
import { runCli } from './program.js';

process.exit(await runCli(process.argv.slice(2)));
