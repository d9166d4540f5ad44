// `npm run build`: one self-contained executable, dist/logtriage, stamped with the git
// revision so `logtriage --version` says exactly what was built.
import { compileLogtriage, gitRevision } from "./_compile.ts";

const revision = await gitRevision();
const outfile = process.argv[2] ?? "dist/logtriage";
const result = await compileLogtriage({ outfile, revision });
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built ${outfile} (${revision})`);
