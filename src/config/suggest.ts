// "Did you mean ...?" for unknown config keys, commands and options.

/**
 * Edit distance counting a swap of two neighbouring letters as one edit (optimal string
 * alignment), since `priorty`/`priroity` are the typos people make.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i * cols + j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The candidate nearest to `name`, or null when none is close: at most one edit in three
 * letters (at least one), ignoring case and `-` versus `_`, so `alertTiers` and
 * `alert-tiers` both find `alert_tiers` while `db` does not turn into `log`.
 */
export function closestName(name: string, candidates: readonly string[]): string | null {
  const norm = (s: string): string => s.toLowerCase().replaceAll("-", "_");
  const wanted = norm(name);
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(wanted, norm(candidate));
    const limit = Math.max(1, Math.floor(Math.max(wanted.length, candidate.length) / 3));
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
