// /proc/pressure/memory (Linux 4.20+, CONFIG_PSI):
//   some avg10=0.00 avg60=0.00 avg300=0.00 total=0
//   full avg10=0.00 avg60=0.00 avg300=0.00 total=0
// avg* are percentages of wall time some/all non-idle tasks were stalled on memory;
// total is cumulative stall time in microseconds.

export interface PsiLine {
  avg10: number;
  avg60: number;
  avg300: number;
  totalUs: number;
}

export interface PsiReading {
  some: PsiLine;
  full: PsiLine | null;
}

const LINE = /^(some|full) avg10=([\d.]+) avg60=([\d.]+) avg300=([\d.]+) total=(\d+)$/;

export function parsePsi(text: string): PsiReading | null {
  let some: PsiLine | null = null;
  let full: PsiLine | null = null;
  for (const line of text.split("\n")) {
    const m = LINE.exec(line.trim());
    if (!m) continue;
    const value = { avg10: Number(m[2]), avg60: Number(m[3]), avg300: Number(m[4]), totalUs: Number(m[5]) };
    if (m[1] === "some") some = value;
    else full = value;
  }
  return some ? { some, full } : null;
}
