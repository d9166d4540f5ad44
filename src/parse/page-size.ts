// The kernel's page size, from the first mapping in /proc/self/smaps:
//   KernelPageSize:        4 kB
// (4 kB on x86_64; 4, 16 or 64 kB on arm64 kernels — the OOM report's task table counts pages.)

export function parseKernelPageSizeKb(smaps: string): number | null {
  const m = /^KernelPageSize:\s+(\d+) kB$/m.exec(smaps);
  return m ? Number(m[1]) : null;
}
