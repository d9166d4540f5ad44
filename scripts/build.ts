// `npm run build`: one self-contained executable, dist/logtriage, stamped with the git
// revision so `logtriage --version` says exactly what was built.
import { $ } from "bun";

async function gitRevision(): Promise<string> {
  const result = await $`git rev-parse --short=12 HEAD`.quiet().nothrow();
  if (result.exitCode !== 0) return "unknown";
  const dirty = (await $`git status --porcelain --untracked-files=no`.quiet().nothrow()).stdout.toString().trim() !== "";
  return `${result.stdout.toString().trim()}${dirty ? "-dirty" : ""}`;
}

const revision = await gitRevision();
const outfile = process.argv[2] ?? "dist/logtriage";
const result = await Bun.build({
  entrypoints: ["src/bin.ts"],
  compile: { outfile },
  minify: true,
  // Precompiled bytecode: start-up is most of a short command's wall time (measured in bun run bench).
  bytecode: true,
  sourcemap: "linked",
  define: {
    LOGTRIAGE_REVISION: JSON.stringify(revision),
    // consola's env detection falls back to import.meta.env after process.env (always set
    // under Bun); bytecode builds are CommonJS, where import.meta is a syntax error.
    "import.meta.env": "undefined",
  },
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built ${outfile} (${revision})`);
