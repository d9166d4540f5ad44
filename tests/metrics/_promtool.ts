// promtool (Debian's prometheus package; .ci/run installs it) checks exposition text and rule
// files with Prometheus's own parser and linter. Where it is missing the tests say so and
// check what they can without it.

export const PROMTOOL = Bun.which("promtool", { PATH: "/usr/bin:/bin:/usr/local/bin" });

export function promtoolMissing(what: string): void {
  console.warn(
    `promtool is not installed (apt-get install prometheus; .ci/run installs it): ${what} not checked by Prometheus's own parser`,
  );
}

/** `promtool check metrics` on the text: exit code and what it said. */
export function promtoolCheckMetrics(text: string): { code: number; output: string } {
  const r = Bun.spawnSync([PROMTOOL as string, "check", "metrics"], {
    stdin: new TextEncoder().encode(text),
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode ?? -1, output: r.stdout.toString() + r.stderr.toString() };
}
