import { chmodSync, copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

// Tests that run something as another user ("nobody", to see a permission error root would
// never get) must not depend on the clone being readable by that user: CI may clone into a
// 0700 temporary folder, where nobody cannot even reach dist/logtriage or node_modules' bun.
// What such a test runs is copied once into a world-readable temporary folder, removed when
// the test process exits.

let shared: string | null = null;

function sharedDir(): string {
  if (shared === null) {
    const dir = mkdtempSync(join(tmpdir(), "logtriage-other-user-"));
    chmodSync(dir, 0o755);
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    shared = dir;
  }
  return shared;
}

const copies = new Map<string, string>();

/** An executable copy of `path` that any user can run. */
export function copyForOtherUsers(path: string): string {
  const known = copies.get(path);
  if (known !== undefined) return known;
  const copy = join(sharedDir(), `${copies.size}-${basename(path)}`);
  copyFileSync(path, copy);
  chmodSync(copy, 0o755);
  copies.set(path, copy);
  return copy;
}

/** `entry` bundled (its imports included) into one file any user can read, for `bun -e` as another user. */
export async function bundleForOtherUsers(entry: string): Promise<string> {
  const known = copies.get(entry);
  if (known !== undefined) return known;
  const outdir = join(sharedDir(), `bundle-${copies.size}`);
  const result = await Bun.build({ entrypoints: [entry], outdir, target: "bun" });
  if (!result.success) throw new Error(`bundling ${entry} failed: ${result.logs.map(String).join("\n")}`);
  chmodSync(outdir, 0o755);
  const file = result.outputs[0]?.path as string;
  chmodSync(file, 0o644);
  copies.set(entry, file);
  return file;
}
