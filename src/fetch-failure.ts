// What went wrong with a fetch() that got no HTTP answer, in one vocabulary for everything that
// talks HTTP (the ntfy client, the health probes): Bun's fetch (1.4.5) reports the failure as an
// error `code` — Node's and BoringSSL's names — and this turns it into a kind and words.

export type FetchFailureKind = "dns" | "refused" | "tls" | "reset" | "other";

export interface FetchFailure {
  kind: FetchFailureKind;
  /** The error's code as Bun gave it; "" when it had none. */
  code: string;
  /** For "tls": the certificate or handshake problem in words. */
  tlsWords: string | null;
  message: string;
}

const DNS_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_FAIL", "ENODATA", "DNSException"]);

/** Words for the TLS failures seen from Bun's fetch; other certificate codes are shown as they are. */
const TLS_WORDS: Readonly<Record<string, string>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "its certificate is self-signed",
  SELF_SIGNED_CERT_IN_CHAIN: "a certificate in its chain is self-signed",
  UNABLE_TO_GET_ISSUER_CERT: "its certificate's issuer is unknown here",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "its certificate's issuer is unknown here",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "its certificate is not signed by an authority this machine trusts",
  CERT_HAS_EXPIRED: "its certificate has expired",
  CERT_NOT_YET_VALID: "its certificate is not valid yet",
  CERT_REVOKED: "its certificate was revoked",
  ERR_TLS_CERT_ALTNAME_INVALID: "its certificate is for another host name",
  EPROTO: "the TLS handshake failed (does it speak HTTPS on that port?)",
};

function isTlsCode(code: string): boolean {
  return code in TLS_WORDS || /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|^ERR_TLS|^ERR_SSL|TLS|SSL/.test(code);
}

/** The `code` of a Node-style error (ENOENT, ECONNREFUSED, CERT_HAS_EXPIRED…); "" when it has none. */
export function errorCode(error: unknown): string {
  const raw = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof raw === "string" ? raw : "";
}

export function describeFetchFailure(error: unknown): FetchFailure {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  if (DNS_CODES.has(code)) return { kind: "dns", code, tlsWords: null, message };
  if (code === "ECONNREFUSED" || code === "ConnectionRefused") return { kind: "refused", code, tlsWords: null, message };
  if (isTlsCode(code)) return { kind: "tls", code, tlsWords: TLS_WORDS[code] ?? "certificate not accepted", message };
  if (code === "ECONNRESET") return { kind: "reset", code, tlsWords: null, message };
  return { kind: "other", code, tlsWords: null, message };
}
