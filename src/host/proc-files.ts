import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { parseKernelPageSizeKb } from "../parse/page-size.ts";
import { parsePsi, type PsiReading } from "../parse/psi.ts";

// Thin readers of /proc, behind a proc root so tests can point them at a captured tree.

const FALLBACK_PAGE_SIZE_KB = 4;

/** The machine's page size in kB; 4 if /proc cannot tell (it always can on Linux). */
export function readPageSizeKb(procRoot = "/proc"): number {
  try {
    // Only the first mapping is needed; smaps of a big process is megabytes.
    const fd = openSync(join(procRoot, "self", "smaps"), "r");
    try {
      const buffer = Buffer.alloc(4096);
      const n = readSync(fd, buffer, 0, buffer.length, 0);
      return parseKernelPageSizeKb(buffer.subarray(0, n).toString("utf8")) ?? FALLBACK_PAGE_SIZE_KB;
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not Linux or /proc not mounted: 4 kB is right for every x86_64 kernel.
    return FALLBACK_PAGE_SIZE_KB;
  }
}

/** Memory PSI, or null where the kernel has none (before 4.20, CONFIG_PSI=n, psi=0). */
export function readMemoryPsi(procRoot = "/proc"): PsiReading | null {
  try {
    return parsePsi(readFileSync(join(procRoot, "pressure", "memory"), "utf8"));
  } catch {
    // "Nothing here" is not a failure: status says PSI is unavailable.
    return null;
  }
}
