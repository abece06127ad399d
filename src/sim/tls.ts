// TLS material for `sim start --tls` / `--mtls`: a private CA, a server certificate
// (SAN 127.0.0.1 and localhost) and a client certificate, all made by the system
// `openssl` binary (no hand-rolled ASN.1, no npm dependency). EC P-256 keys keep the
// whole set under ~100 ms. Private keys are written 0600.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** The openssl binary: `$QUANTUM_ROLL_OPENSSL` or `openssl` on PATH. */
export function opensslBin(): string {
  return process.env.QUANTUM_ROLL_OPENSSL || 'openssl';
}

/** Runs openssl with argv (never a shell); throws with its stderr on failure. */
export function openssl(args: readonly string[], cwd?: string): void {
  try {
    execFileSync(opensslBin(), args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string; code?: string };
    if (err.code === 'ENOENT') {
      throw new Error(`${opensslBin()} not found: the simulator needs the system openssl to generate TLS certificates`, { cause: e });
    }
    const detail = err.stderr?.toString('utf8').trim() || err.message;
    throw new Error(`openssl ${args[0] ?? ''} failed: ${detail}`, { cause: e });
  }
}

export interface CertPair {
  cert: string;
  key: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function serial(): string {
  return `0x${randomBytes(12).toString('hex')}`;
}

/** A self-signed CA certificate and key: `<dir>/<name>.pem`, `<dir>/<name>.key`. */
export function createCa(dir: string, name = 'ca', cn = 'quantum-roll simulator CA', days = 3650): CertPair {
  fs.mkdirSync(dir, { recursive: true });
  const out = { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
  openssl([
    'req', '-x509', ...EC,
    '-keyout', out.key, '-out', out.cert,
    '-days', String(days), '-set_serial', serial(),
    '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  fs.chmodSync(out.key, 0o600);
  return out;
}

export interface IssueOptions {
  /** Subject common name. */
  cn: string;
  /** subjectAltName entries: IP addresses and DNS names (server certificates). */
  sans?: readonly string[];
  usage: 'server' | 'client';
  /** Validity in days; 0 makes a certificate that expires the second it is issued (for tests). */
  days?: number;
}

/** A leaf certificate signed by `ca`: `<dir>/<name>.pem` and `<dir>/<name>.key`. */
export function issueCert(ca: CertPair, dir: string, name: string, o: IssueOptions): CertPair {
  fs.mkdirSync(dir, { recursive: true });
  const out = { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  openssl(['req', '-new', ...EC, '-keyout', out.key, '-out', csr, '-subj', `/CN=${o.cn}`]);
  fs.chmodSync(out.key, 0o600);
  const lines = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    `extendedKeyUsage=${o.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
  ];
  const sans = (o.sans ?? []).map((s) => (/^[\d.]+$|:/.test(s) ? `IP:${s}` : `DNS:${s}`));
  if (sans.length) lines.push(`subjectAltName=${sans.join(',')}`);
  fs.writeFileSync(ext, lines.join('\n') + '\n');
  try {
    openssl([
      'x509', '-req', '-in', csr,
      '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', serial(),
      '-days', String(o.days ?? 825),
      '-extfile', ext, '-out', out.cert,
    ]);
  } finally {
    fs.rmSync(csr, { force: true });
    fs.rmSync(ext, { force: true });
  }
  return out;
}

/** What `sim start --tls` leaves in `<state dir>/tls/`. */
export interface SimTlsFiles {
  dir: string;
  /** The private CA that signed the server and client certificates (the `ca_file` to use). */
  ca: string;
  server: CertPair;
  /** A client certificate for mTLS (the `cert_file`/`key_file` to use). */
  client: CertPair;
  /** Whether the servers require a client certificate. */
  mtls: boolean;
}

/** Generates a fresh CA, server and client certificate under `<stateDir>/tls`. */
export function generateSimTls(stateDir: string, mtls: boolean): SimTlsFiles {
  const dir = path.join(stateDir, 'tls');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = createCa(dir);
  const server = issueCert(ca, dir, 'server', { cn: 'localhost', sans: ['127.0.0.1', 'localhost', '::1'], usage: 'server' });
  const client = issueCert(ca, dir, 'client', { cn: 'quantum-roll', usage: 'client' });
  return { dir, ca: ca.cert, server, client, mtls };
}

/** Options for `https.createServer` / `tls.createServer` of every simulated API. */
export interface ServerTlsOptions {
  key: Buffer;
  cert: Buffer;
  ca: Buffer;
  requestCert: boolean;
  rejectUnauthorized: boolean;
  minVersion: 'TLSv1.2';
}

export function serverTlsOptions(files: { ca: string; server: CertPair; mtls: boolean }): ServerTlsOptions {
  return {
    key: fs.readFileSync(files.server.key),
    cert: fs.readFileSync(files.server.cert),
    ca: fs.readFileSync(files.ca),
    requestCert: files.mtls,
    rejectUnauthorized: files.mtls,
    minVersion: 'TLSv1.2',
  };
}
