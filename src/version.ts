import pkg from "../package.json" with { type: "json" };

// The git revision is stamped in by scripts/build.ts (`--define`); running from source it
// is "dev".
declare const LOGTRIAGE_REVISION: string | undefined;

export const VERSION: string = pkg.version;
export const REVISION: string = typeof LOGTRIAGE_REVISION === "string" ? LOGTRIAGE_REVISION : "dev";

export function versionLine(): string {
  return `logtriage ${VERSION} (${REVISION})`;
}
