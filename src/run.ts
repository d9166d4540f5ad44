// The one place that runs short-lived external tools (journalctl probes now; coredumpctl,
// smartctl and `journalctl -u` for enrichment later). argv arrays only, never a shell; every
// run has a timeout and a cap on the output it keeps, so a wedged or chatty tool cannot stall
// the daemon or grow its memory. The long-lived `journalctl --follow` child is not a run: it
// lives in sources/journal.ts under its own supervisor.

export interface RunResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  timeoutMs: number;
  input?: string;
  /** Bytes kept of each of stdout and stderr (the rest is read and dropped). Default 1 MiB. */
  maxOutputBytes?: number;
  /** Kills the tool when aborted (an enricher's time is up, the daemon stops); reported as timedOut. */
  signal?: AbortSignal;
}

export interface Runner {
  run(argv: string[], opts: RunOptions): Promise<RunResult>;
}

/** A tool that could not be run, or ran and failed; carries what a message needs. */
export class RunError extends Error {
  readonly argv: string[];
  readonly result: RunResult | null;
  constructor(message: string, argv: string[], result: RunResult | null, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RunError";
    this.argv = argv;
    this.result = result;
  }
}

const DEFAULT_MAX_OUTPUT = 1 << 20;

async function readCapped(stream: ReadableStream<Uint8Array>, maxBytes: number): Promise<string> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let kept = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (kept < maxBytes) {
      const part = value.subarray(0, maxBytes - kept);
      chunks.push(part);
      kept += part.length;
    }
  }
  return Buffer.concat(chunks).toString("utf8");
}

export const processRunner: Runner = {
  async run(argv, opts) {
    const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    let proc: Bun.Subprocess<"ignore" | Uint8Array, "pipe", "pipe">;
    try {
      proc = Bun.spawn(argv, {
        stdin: opts.input === undefined ? "ignore" : new TextEncoder().encode(opts.input),
        stdout: "pipe",
        stderr: "pipe",
      });
    } catch (error) {
      // ENOENT / EACCES: the tool is not installed or not executable.
      throw new RunError(`cannot run ${argv[0]}: ${error instanceof Error ? error.message : String(error)}`, argv, null, { cause: error });
    }
    let timedOut = false;
    const stop = () => {
      timedOut = true;
      proc.kill("SIGKILL");
    };
    const timer = setTimeout(stop, opts.timeoutMs);
    if (opts.signal?.aborted) stop();
    opts.signal?.addEventListener("abort", stop, { once: true });
    try {
      const [stdout, stderr, exitCode] = await Promise.all([readCapped(proc.stdout, max), readCapped(proc.stderr, max), proc.exited]);
      return { exitCode: timedOut ? null : exitCode, stdout, stderr, timedOut };
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", stop);
    }
  },
};
