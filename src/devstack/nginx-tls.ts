/**
 * The parts of deploy/nginx/tierbook.conf.template that differ between plain h2c and TLS:
 * the `listen` block of the server and the `grpc_pass` block of its location. Every
 * directive keeps its comment, as in the template.
 */

/** nginx's TLS: its certificate files, and whether the gateways behind it speak TLS too. */
export interface NginxTls {
  certFile: string;
  keyFile: string;
  /** The gateways serve TLS themselves (TIERBOOK_TLS_* set for them): proxy with grpcs. */
  upstreamTls?: boolean;
  /** The name checked in the gateways' certificate when upstreamTls; default "localhost". */
  upstreamName?: string;
}

/** The server's `listen` lines: the main address, and the premium one when there is one. */
export function listenBlock(listen: string | string[], tls?: NginxTls): string {
  const addresses = [listen].flat();
  if (!tls) {
    return `        # gRPC is HTTP/2; here without TLS (h2c). See deploy/nginx/production.conf for TLS.
${addresses.map((a) => `        listen ${a} http2;`).join('\n')}`;
  }
  return `        # gRPC over HTTP/2 with TLS; clients must offer ALPN "h2" (every gRPC library does).
${addresses.map((a) => `        listen ${a} ssl http2;`).join('\n')}
        # PEM certificate chain (server certificate first) and its key (TIERBOOK_TLS_*_FILE).
        ssl_certificate ${tls.certFile};
        ssl_certificate_key ${tls.keyFile};
        # TLS 1.2 is the floor gRPC requires; 1.3 is preferred by every current client.
        ssl_protocols TLSv1.2 TLSv1.3;
        # Resume sessions so reconnecting clients skip the full handshake.
        ssl_session_cache shared:tierbook_tls:10m;
        ssl_session_timeout 1h;`;
}

export function upstreamBlock(tls?: NginxTls): string {
  if (!tls?.upstreamTls) {
    return `            # Forward gRPC over h2c to the gateway processes on this host's loopback (the
            # group the port maps to).
            grpc_pass grpc://$tierbook_upstream;`;
  }
  return `            # Forward gRPC over TLS (grpcs) to gateways that serve TLS themselves.
            grpc_pass grpcs://$tierbook_upstream;
            # The gateways' certificate is checked against the chain nginx serves.
            grpc_ssl_trusted_certificate ${tls.certFile};
            grpc_ssl_verify on;
            grpc_ssl_name ${tls.upstreamName ?? 'localhost'};
            # Reuse TLS sessions to the gateways, as the keepalive pool reuses connections.
            grpc_ssl_session_reuse on;`;
}
