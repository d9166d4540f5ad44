import { $ } from "bun";

// What `npm run build` and `npm run release` share: one self-contained executable from
// src/bin.ts, stamped with the git revision so `logtriage --version` says exactly what was built.

export async function gitRevision(): Promise<string> {
  const result = await $`git rev-parse --short=12 HEAD`.quiet().nothrow();
  if (result.exitCode !== 0) return "unknown";
  const dirty = (await $`git status --porcelain --untracked-files=no`.quiet().nothrow()).stdout.toString().trim() !== "";
  return `${result.stdout.toString().trim()}${dirty ? "-dirty" : ""}`;
}

export interface CompileOptions {
  outfile: string;
  revision: string;
  /** A Bun target other than this machine's, e.g. "bun-linux-arm64" (Bun fetches that runtime). */
  target?: Bun.Build.CompileTarget;
  /** A Bun runtime for `target` to use instead of downloading one. */
  executablePath?: string;
}

/** Bun.build's result; its logs say why when `success` is false. */
export async function compileLogtriage(options: CompileOptions): Promise<Bun.BuildOutput> {
  return Bun.build({
    entrypoints: ["src/bin.ts"],
    compile: {
      outfile: options.outfile,
      ...(options.target === undefined ? {} : { target: options.target }),
      ...(options.executablePath === undefined ? {} : { executablePath: options.executablePath }),
    },
    minify: true,
    // Precompiled bytecode: start-up is most of a short command's wall time (measured in bun run bench).
    bytecode: true,
    sourcemap: "linked",
    define: {
      LOGTRIAGE_REVISION: JSON.stringify(options.revision),
      // consola's env detection falls back to import.meta.env after process.env (always set
      // under Bun); bytecode builds are CommonJS, where import.meta is a syntax error.
      "import.meta.env": "undefined",
    },
  });
}
