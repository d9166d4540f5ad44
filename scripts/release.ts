// `npm run release`: the files a GitHub release carries, in dist/release/:
// logtriage-linux-x64, logtriage-linux-arm64, install.sh and SHA256SUMS over them (the names
// install.sh downloads and looks up).
//
// The x64 build uses the Bun that runs this script. For arm64 Bun.build fetches the runtime
// from registry.npmjs.org (@oven/bun-linux-aarch64 at this Bun's version) into its install
// cache (~/.bun/install/cache/bun-linux-aarch64-v<version>); offline that works only once it is
// cached, else the build fails with "Failed to download … DNSResolveFailed" (Bun 1.4.5, checked
// with `unshare -n`). LOGTRIAGE_BUN_ARM64=path gives it an aarch64 `bun` binary instead.
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { compileLogtriage, gitRevision } from "./_compile.ts";

const OUT_DIR = "dist/release";

interface ReleaseTarget {
  asset: string;
  bunTarget: Bun.Build.CompileTarget;
  /** ELF e_machine: the arm64 binary cannot be run here, so at least its header is checked. */
  elfMachine: number;
  executablePath?: string;
}

const arm64Runtime = process.env["LOGTRIAGE_BUN_ARM64"];
const TARGETS: ReleaseTarget[] = [
  { asset: "logtriage-linux-x64", bunTarget: "bun-linux-x64", elfMachine: 0x3e },
  {
    asset: "logtriage-linux-arm64",
    bunTarget: "bun-linux-arm64",
    elfMachine: 0xb7,
    ...(arm64Runtime ? { executablePath: arm64Runtime } : {}),
  },
];

function buildLogs(error: unknown): string[] {
  if (error instanceof AggregateError) return error.errors.map(String);
  return [String(error)];
}

async function sha256Hex(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}

async function elfMachine(path: string): Promise<number | null> {
  const header = new Uint8Array(await Bun.file(path).slice(0, 20).arrayBuffer());
  const isElf = header[0] === 0x7f && header[1] === 0x45 && header[2] === 0x4c && header[3] === 0x46;
  return isElf ? new DataView(header.buffer).getUint16(18, true) : null;
}

const revision = await gitRevision();
rmSync(OUT_DIR, { recursive: true, force: true });
mkdirSync(OUT_DIR, { recursive: true });

const assets: string[] = [];
for (const target of TARGETS) {
  const outfile = join(OUT_DIR, target.asset);
  const started = performance.now();
  let logs: string[] = [];
  try {
    const result = await compileLogtriage({
      outfile,
      revision,
      target: target.bunTarget,
      ...(target.executablePath ? { executablePath: target.executablePath } : {}),
    });
    if (!result.success) logs = result.logs.map(String);
  } catch (error) {
    // Bun.build throws (AggregateError) rather than returning success: false when it cannot
    // get the target's runtime.
    logs = buildLogs(error);
  }
  if (logs.length > 0) {
    console.error(`release: ${target.asset} (${target.bunTarget}) failed:`);
    for (const line of logs) console.error(`  ${line}`);
    if (target.bunTarget !== "bun-linux-x64") {
      console.error(
        `  Bun fetches this runtime from registry.npmjs.org; offline, set LOGTRIAGE_BUN_ARM64 to an aarch64 bun (npm package @oven/bun-linux-aarch64@${Bun.version}, bin/bun).`,
      );
    }
    process.exit(1);
  }
  // The runtime's copy is embedded in the binary (stack traces map without it): a release
  // carries no .map files.
  rmSync(`${outfile}.map`, { force: true });
  const machine = await elfMachine(outfile);
  if (machine !== target.elfMachine) {
    console.error(
      `release: ${outfile} is not an ELF for ${target.bunTarget} (e_machine ${machine === null ? "none" : `0x${machine.toString(16)}`})`,
    );
    process.exit(1);
  }
  assets.push(outfile);
  console.log(`built ${outfile} (${target.bunTarget}, ${revision}) in ${Math.round(performance.now() - started)} ms`);
}

const installer = join(OUT_DIR, "install.sh");
copyFileSync("install.sh", installer);
chmodSync(installer, 0o755);
assets.push(installer);

// sha256sum's text format, names without directories: `sha256sum -c SHA256SUMS` in the
// download folder checks them, and install.sh looks its asset up by name.
const lines: string[] = [];
for (const path of assets.sort()) lines.push(`${await sha256Hex(path)}  ${basename(path)}`);
writeFileSync(join(OUT_DIR, "SHA256SUMS"), `${lines.join("\n")}\n`);

const native = TARGETS.find((t) => t.bunTarget === `bun-linux-${process.arch}`);
if (native) {
  const version = Bun.spawnSync([join(OUT_DIR, native.asset), "--version"], { stdout: "pipe", stderr: "pipe" });
  if (version.exitCode !== 0) {
    console.error(`release: ${native.asset} --version failed: ${version.stderr.toString().trim()}`);
    process.exit(1);
  }
  console.log(version.stdout.toString().trim());
}
console.log(`wrote ${join(OUT_DIR, "SHA256SUMS")}`);
