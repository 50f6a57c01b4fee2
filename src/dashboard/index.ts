/** The web dashboard: static UI and its JSON API, served at /ui and /api/ on a member's metrics listener. */
export { Dashboard, type DashboardOptions } from './dashboard.js';
export { LoadSampler, type LoadSample } from './load.js';
export { CertificateLogin } from './certificate-login.js';
