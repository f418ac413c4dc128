import { readFileSync } from 'node:fs';
import { ServerCredentials } from '@grpc/grpc-js';

/** Where the gateway's certificate and key are (config.gateway.tls). */
export interface TlsFiles {
  /** PEM certificate chain: the server certificate first, then intermediates. */
  certFile: string;
  /** PEM private key of the certificate. */
  keyFile: string;
}

/**
 * The gateway's listening credentials: TLS from PEM files when configured, else plaintext
 * HTTP/2 (h2c), which is only for loopback behind nginx. The files are read once, at start:
 * a rotated certificate takes effect on the next (rolling) restart of the gateway processes.
 * Client certificates are not requested; callers authenticate with API keys.
 */
export function serverCredentials(tls: TlsFiles | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(tls.certFile);
    key = readFileSync(tls.keyFile);
  } catch (err) {
    // Name the option, not just the path, so the operator knows what to fix.
    throw new Error(`TIERBOOK_TLS_CERT_FILE / TIERBOOK_TLS_KEY_FILE cannot be read: ${(err as Error).message}`);
  }
  return ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false);
}
