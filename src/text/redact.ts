// Secrets stay on the machine. Two passes:
//
// 1. redactUrl / redactUrlsIn: a URL's credentials, the `user:password@` userinfo and the
//    values of query parameters that carry secrets (token, key, api_key, password, secret,
//    sig…), wherever logtriage stores, shows or sends a URL it was given (a probe's
//    health_url lands in events, snapshots, the API, `query`/`show` and alerts).
// 2. Redactor.text: a pass over free text that leaves the machine (ntfy alerts, which may go to
//    public ntfy.sh, and the HTTP API) for secrets log lines are known to carry: Authorization
//    headers, bearer tokens, provider token shapes and `password=…`-style assignments. The
//    shapes follow the providers' documented formats; tests/redact.test.ts holds one real-shaped
//    sample of each.
//
// Redaction keeps what a reader needs to act (which header, which key, which provider) and
// replaces only the secret with REDACTED.

export const REDACTED = "REDACTED";

/** Query parameter names whose values are secrets; compared lowercase, "-" and "_" ignored. */
const SECRET_PARAMS = new Set([
  "token",
  "accesstoken",
  "authtoken",
  "key",
  "apikey",
  "password",
  "passwd",
  "pwd",
  "secret",
  "clientsecret",
  "sig",
  "signature",
  "xamzsignature",
  "xamzcredential",
  "xamzsecuritytoken",
  "auth",
  "session",
  "sessionid",
]);

function isSecretParam(name: string): boolean {
  return SECRET_PARAMS.has(name.toLowerCase().replace(/[-_]/g, ""));
}

/**
 * `url` with its userinfo and secret query values replaced; anything that is not a URL with a
 * scheme comes back unchanged. Done on the text (not through URL), so the rest of the URL stays
 * exactly as written.
 */
export function redactUrl(url: string): string {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^/?#]*)(.*)$/s.exec(url);
  if (!m) return url;
  const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
  const at = authority.lastIndexOf("@");
  const host = at >= 0 ? `${REDACTED}@${authority.slice(at + 1)}` : authority;
  return `${scheme}${host}${redactQuery(rest)}`;
}

function redactQuery(rest: string): string {
  const q = rest.indexOf("?");
  if (q < 0) return rest;
  const hash = rest.indexOf("#", q);
  const query = rest.slice(q + 1, hash < 0 ? undefined : hash);
  const redacted = query
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      if (eq < 0) return pair;
      let name = pair.slice(0, eq);
      try {
        name = decodeURIComponent(name);
      } catch (error) {
        // A malformed escape: compare the name as written.
        void error;
      }
      return isSecretParam(name) ? `${pair.slice(0, eq)}=${REDACTED}` : pair;
    })
    .join("&");
  return `${rest.slice(0, q)}?${redacted}${hash < 0 ? "" : rest.slice(hash)}`;
}

const URL_IN_TEXT = /\b[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s"'<>`]+/g;

/** Every URL in `text` through redactUrl. */
export function redactUrlsIn(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => redactUrl(url));
}

interface SecretPattern {
  name: string;
  pattern: RegExp;
  /** The replacement, from the match's groups: what is kept around the secret. */
  replace: (groups: (string | undefined)[]) => string;
}

/** Keep group 1 (the prefix that says what it was), replace the rest. */
const keepPrefix = (g: (string | undefined)[]) => `${g[0] ?? ""}${REDACTED}`;

// Shapes, each from its provider's documentation:
// - GitHub: ghp_/gho_/ghu_/ghs_/ghr_ + 36 base62, and fine-grained github_pat_ + 82
//   (docs.github.com "About authentication to GitHub", token prefixes; github.blog 2021-04-05).
// - Slack: xoxb-/xoxp-/xoxa-/xoxr-/xoxs-/xoxe- tokens and xapp- app tokens (api.slack.com/authentication/token-types);
//   incoming webhooks https://hooks.slack.com/services/T…/B…/… (api.slack.com/messaging/webhooks).
// - AWS: access key IDs AKIA/ASIA + 16 upper-case base32 (docs.aws.amazon.com IAM identifiers,
//   "unique ID prefixes"); the secret key only next to its name, it has no prefix.
// - ntfy access tokens tk_ + 29 alphanumerics (docs.ntfy.sh/config/#access-tokens).
// - GitLab personal access tokens glpat- + 20 (docs.gitlab.com, token prefixes).
// - Google API keys AIza + 35 (cloud.google.com/docs/authentication/api-keys).
// - Stripe secret/restricted keys sk_live_/rk_live_ (docs.stripe.com/keys).
// - JSON Web Tokens: three base64url parts, the first a JSON header starting eyJ (RFC 7519).
// - PEM private keys (RFC 7468).
const BUILTIN: readonly SecretPattern[] = [
  {
    name: "private key",
    pattern: /-----BEGIN ((?:[A-Z]+ )*PRIVATE KEY)-----[\s\S]*?(?:-----END \1-----|$)/g,
    replace: (g) => `-----BEGIN ${g[0] ?? ""}----- ${REDACTED}`,
  },
  {
    name: "authorization header",
    pattern: /\b((?:proxy-)?authorization\s*[:=]\s*"?)(?:(bearer|basic|token|digest|negotiate)\s+)?[^\s",;]+/gi,
    replace: (g) => `${g[0] ?? ""}${g[1] ? `${g[1]} ` : ""}${REDACTED}`,
  },
  { name: "bearer token", pattern: /\b(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*/gi, replace: keepPrefix },
  { name: "github token", pattern: /\b(gh[pousr]_)[A-Za-z0-9]{36,255}\b/g, replace: keepPrefix },
  { name: "github fine-grained token", pattern: /\b(github_pat_)[A-Za-z0-9_]{22,255}\b/g, replace: keepPrefix },
  { name: "slack token", pattern: /\b(xox[abeoprs]-|xapp-)[A-Za-z0-9-]{10,}/g, replace: keepPrefix },
  { name: "slack webhook", pattern: /(hooks\.slack\.com\/(?:services|workflows|triggers)\/)[A-Za-z0-9/_-]+/g, replace: keepPrefix },
  { name: "aws access key id", pattern: /\b(AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b/g, replace: keepPrefix },
  { name: "ntfy token", pattern: /\b(tk_)[A-Za-z0-9]{29}\b/g, replace: keepPrefix },
  { name: "gitlab token", pattern: /\b(glpat-)[A-Za-z0-9_-]{20,}/g, replace: keepPrefix },
  { name: "google api key", pattern: /\b(AIza)[A-Za-z0-9_-]{35}\b/g, replace: keepPrefix },
  { name: "stripe key", pattern: /\b((?:sk|rk)_(?:live|test)_)[A-Za-z0-9]{16,}/g, replace: keepPrefix },
  { name: "json web token", pattern: /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, replace: () => REDACTED },
  // key=value and key: value, quoted or not: the key stays, the value goes. Runs last, so a
  // value already redacted above stays as it is.
  {
    name: "secret assignment",
    pattern:
      /\b((?:[A-Za-z0-9]+[_-])*(?:password|passwd|pwd|passphrase|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key|client[_-]?secret|credentials?)["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&"'}]+)/gi,
    replace: keepPrefix,
  },
];

export interface RedactionConfig {
  /** The free-text pass over what leaves the machine; URL credentials are redacted regardless. */
  enabled: boolean;
  /** More regular expressions (their whole match is replaced), from `[redact] patterns`. */
  patterns: readonly string[];
}

export const DEFAULT_REDACTION: RedactionConfig = { enabled: true, patterns: [] };

export class Redactor {
  readonly #patterns: readonly SecretPattern[];
  readonly #enabled: boolean;

  constructor(config: RedactionConfig = DEFAULT_REDACTION) {
    this.#enabled = config.enabled;
    const extra = config.patterns.map((source, i) => ({
      name: `[redact] patterns[${i}]`,
      pattern: new RegExp(source, "g"),
      replace: () => REDACTED,
    }));
    this.#patterns = [...BUILTIN, ...extra];
  }

  /** `text` with URL credentials and, when enabled, every known secret shape replaced. */
  text(text: string): string {
    let out = redactUrlsIn(text);
    if (!this.#enabled) return out;
    for (const p of this.#patterns) {
      p.pattern.lastIndex = 0;
      out = out.replace(p.pattern, (match: string, ...rest: unknown[]) => {
        // An already-redacted value is left alone, so passes compose and repeat harmlessly.
        if (match.endsWith(REDACTED)) return match;
        // replace() passes the groups, then the offset (a number): the groups are what comes before it.
        const end = rest.findIndex((x) => typeof x === "number");
        const groups = rest.slice(0, end < 0 ? rest.length : end).map((g) => (typeof g === "string" ? g : undefined));
        return p.replace(groups);
      });
    }
    return out;
  }

  /** Every string inside a JSON-like value through text(); the shape is kept. */
  deep<T>(value: T): T {
    return this.#deep(value, 0) as T;
  }

  #deep(value: unknown, depth: number): unknown {
    if (typeof value === "string") return this.text(value);
    if (depth > 64 || typeof value !== "object" || value === null) return value;
    if (Array.isArray(value)) return value.map((v) => this.#deep(v, depth + 1));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.#deep(v, depth + 1)]));
  }
}
