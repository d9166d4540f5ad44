// An ntfy topic URL taken apart: the server (with any path prefix a proxy puts it behind) and
// the topic. Pure: the config checks a URL with it, the client and `doctor` use its parts.

/** ntfy's topic rule (server/server.go topicRegex): letters, digits, "_" and "-", 1 to 64. */
export const NTFY_TOPIC = /^[-_A-Za-z0-9]{1,64}$/;

export interface NtfyTarget {
  /** Scheme, host, port and any path prefix the server sits behind; no trailing "/". */
  serverUrl: string;
  topic: string;
}

/**
 * "https://ntfy.sh/my-topic" → { serverUrl: "https://ntfy.sh", topic: "my-topic" }; the topic is
 * the last path segment, whatever comes before it is the server's prefix behind a proxy. Null
 * when it is not http(s) or has no valid topic. User info, query and fragment are dropped:
 * credentials belong in [ntfy] token / token_file / user+password, where they stay out of
 * messages.
 */
export function parseNtfyUrl(url: string): NtfyTarget | null {
  if (!URL.canParse(url)) return null;
  const u = new URL(url);
  if (u.protocol !== "http:" && u.protocol !== "https:") return null;
  const segments = u.pathname.split("/").filter((s) => s !== "");
  const topic = segments.pop();
  if (topic === undefined || !NTFY_TOPIC.test(topic)) return null;
  const prefix = segments.length > 0 ? `/${segments.join("/")}` : "";
  return { serverUrl: `${u.protocol}//${u.host}${prefix}`, topic };
}
