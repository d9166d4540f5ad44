// `bun scripts/corpus-report.ts`: recall per tier and kind and the precision over the sourced
// corpus (tests/fixtures/public/corpus/), as the Markdown table docs/corpus.md quotes; with
// --misses, every record not classified as it says (known misses marked).
import { describeResult, figures, formatFigures, loadCorpus, runCorpus } from "../tests/_corpus.ts";

const { records, knownMisses } = await loadCorpus();
const results = runCorpus(records, knownMisses);
console.log(formatFigures(figures(results)));
if (process.argv.includes("--misses")) {
  for (const x of results.filter((r) => !r.pass))
    console.log(`${x.knownMiss === null ? "MISS" : "known"} ${describeResult(x)}${x.knownMiss ? ` (${x.knownMiss})` : ""}`);
}
