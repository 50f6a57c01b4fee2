/** The package version, as the server reports it. */
import { serverVersion } from '../server/version.js';

export const cliVersion = serverVersion();
