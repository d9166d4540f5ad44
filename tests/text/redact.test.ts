import { describe, expect, test } from "bun:test";
import { REDACTED, Redactor, redactUrl } from "../../src/text/redact.ts";

// The redaction corpus: one sample of each secret shape, in the form each provider's own
// documentation prints as its example (AWS's AKIAIOSFODNN7EXAMPLE, Slack's xoxb- sample, the
// jwt.io token, Stripe's sk_test_ sample, ntfy's tk_ sample…), inside the kind of log line
// that carries it. Each must lose the secret and keep what says what it was.

describe("URL credentials", () => {
  test.each([
    ["http://admin:hunter2@127.0.0.1:8080/health", `http://${REDACTED}@127.0.0.1:8080/health`],
    ["https://user@host/x", `https://${REDACTED}@host/x`],
    ["https://svc/health?api_key=abc123&verbose=1", `https://svc/health?api_key=${REDACTED}&verbose=1`],
    [
      "https://svc/h?token=t&key=k&password=p&secret=s&sig=x#frag",
      `https://svc/h?token=${REDACTED}&key=${REDACTED}&password=${REDACTED}&secret=${REDACTED}&sig=${REDACTED}#frag`,
    ],
    [
      "https://bucket.s3.amazonaws.com/o?X-Amz-Credential=AKIA%2F&X-Amz-Signature=deadbeef",
      `https://bucket.s3.amazonaws.com/o?X-Amz-Credential=${REDACTED}&X-Amz-Signature=${REDACTED}`,
    ],
    ["https://svc/health?API-Key=abc", `https://svc/health?API-Key=${REDACTED}`],
    ["http://127.0.0.1:9000/health", "http://127.0.0.1:9000/health"],
    ["not a url", "not a url"],
  ])("%s", (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});

const CORPUS: [string, string, string][] = [
  // [what, line, the secret that must be gone]
  ["Authorization header (bearer)", "curl: > Authorization: Bearer 4a5ba2c1f0e3d9b87766aa00ff112233", "4a5ba2c1f0e3d9b87766aa00ff112233"],
  ["Authorization header (basic)", 'proxy: request header authorization="Basic YWRtaW46aHVudGVyMg=="', "YWRtaW46aHVudGVyMg=="],
  ["bearer token in text", "retrying with bearer eyJraWQiOiJrMSJ9abcdefgh", "eyJraWQiOiJrMSJ9abcdefgh"],
  ["AWS access key id (docs example)", "botocore: using access key AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"],
  [
    "AWS secret (docs example)",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  ],
  [
    "GitHub classic token",
    "git: remote: https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r.git",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
  ],
  ["GitHub OAuth token", "token gho_16C7e42F292c6912E7710c838347Ae178B4a expired", "16C7e42F292c6912E7710c838347Ae178B4a"],
  [
    "GitHub fine-grained token",
    "GH_TOKEN github_pat_11ABCDEFG0abcdefghijkl_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456",
    "11ABCDEFG0abcdefghijkl_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456",
  ],
  [
    "Slack bot token (docs example)",
    "slack: invalid_auth for xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
    "pdFZKVeTuE8sk7oOcBrzbqgy",
  ],
  ["Slack app token", "socket mode: xapp-1-A0123456789-1234567890123-abcdef0123456789abcdef", "A0123456789-1234567890123"],
  [
    "Slack webhook (docs example)",
    "POST https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX failed",
    "XXXXXXXXXXXXXXXXXXXXXXXX",
  ],
  ["ntfy token (docs example)", "ntfy publish tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2 403", "AgQdq7mVBoFD37zQVN29RhuMzNIz2"],
  ["GitLab token", "CI_JOB glpat-abcdefghij0123456789 rejected", "abcdefghij0123456789"],
  ["Google API key", "maps: key AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe over quota", "SyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"],
  ["Stripe key (docs example)", "stripe: sk_test_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWDarjtT1zdp7dc"],
  [
    "JSON Web Token (jwt.io)",
    "auth cookie eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
  ],
  ["password=", "mysqld: connect failed user=app password=s3cr3t-Pass! host=db", "s3cr3t-Pass!"],
  ["PASSWORD: quoted", 'env: DB_PASSWORD: "correct horse battery"', "correct horse battery"],
  ["api_key=", "worker: api_key=0123456789abcdef started", "0123456789abcdef"],
  ["client_secret json", '{"client_secret":"9f8e7d6c5b4a", "client_id":"x"}', "9f8e7d6c5b4a"],
  [
    "private key",
    "key material: -----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAA -----END OPENSSH PRIVATE KEY-----",
    "b3BlbnNzaC1rZXktdjEAAAAA",
  ],
  ["URL userinfo in text", "probe http://admin:hunter2@10.0.0.5/status failed", "hunter2"],
];

describe("the free-text pass over what leaves the machine", () => {
  const redactor = new Redactor();
  test.each(CORPUS)("%s", (_what, line, secret) => {
    const out = redactor.text(line);
    expect(out).not.toContain(secret);
    expect(out).toContain(REDACTED);
  });

  test("ordinary log lines are left as they are", () => {
    for (const line of [
      "Out of memory: Killed process 1234 (stress) total-vm:100kB, anon-rss:50kB",
      "sshd[812]: Failed password for invalid user admin from 10.0.0.9 port 50122 ssh2",
      "nginx.service: Main process exited, code=killed, status=11/SEGV",
      "GET https://example.org/api/v1/items?page=2 200",
    ]) {
      expect(redactor.text(line)).toBe(line);
    }
  });

  test("running it twice changes nothing more (alerts pass it at send time, API answers again)", () => {
    for (const [, line] of CORPUS) expect(redactor.text(redactor.text(line))).toBe(redactor.text(line));
  });

  test("configurable: off leaves free text (but never URL credentials); extra patterns are applied", () => {
    const off = new Redactor({ enabled: false, patterns: [] });
    expect(off.text("password=x http://u:p@h/")).toBe(`password=x http://${REDACTED}@h/`);
    const extra = new Redactor({ enabled: true, patterns: ["CUST-[0-9]{6}"] });
    expect(extra.text("customer CUST-123456 failed")).toBe(`customer ${REDACTED} failed`);
  });

  test("deep() redacts every string of a JSON value and keeps its shape", () => {
    const value = { events: [{ summary: "api_key=abc", pid: 1, detail: null }], ok: true };
    expect(new Redactor().deep(value)).toEqual({ events: [{ summary: `api_key=${REDACTED}`, pid: 1, detail: null }], ok: true });
  });
});
