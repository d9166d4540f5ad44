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
  entrypoints: ["src/main.ts"],
  compile: { outfile },
  minify: true,
  sourcemap: "linked",
  define: { LOGTRIAGE_REVISION: JSON.stringify(revision) },
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built ${outfile} (${revision})`);
