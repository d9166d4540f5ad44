import { describe, expect, test } from "bun:test";
import { splitLines } from "../../src/sources/lines.ts";
import { detectFormat, newStats, readLogStream, type BadLineKind } from "../../src/sources/file.ts";
import { fixturePath, readEntries, streamOf, triageText } from "../_fixtures.ts";

function chunked(parts: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const p of parts) controller.enqueue(enc.encode(p));
      controller.close();
    },
  });
}

async function lines(stream: ReadableStream<Uint8Array>, max = 100) {
  const out = [];
  for await (const batch of splitLines(stream, max)) out.push(...batch);
  return out;
}

describe("splitLines", () => {
  test("lines split across chunks, multi-byte characters split across chunks", async () => {
    const bytes = new TextEncoder().encode("héllo\nwörld\nlast");
    const parts = [bytes.slice(0, 2), bytes.slice(2, 9), bytes.slice(9)];
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (const p of parts) c.enqueue(p);
        c.close();
      },
    });
    expect(await lines(stream)).toEqual(["héllo", "wörld", { kind: "unterminated", text: "last" }]);
  });

  test("an oversized line is reported by size and skipped; the lines around it survive", async () => {
    const huge = "x".repeat(250);
    expect(await lines(chunked(["before\n", huge.slice(0, 120), huge.slice(120), "\nafter\n"]))).toEqual([
      "before",
      { kind: "oversized", chars: 250 },
      "after",
    ]);
  });

  test("an oversized line at the very end without a newline", async () => {
    expect(await lines(chunked(["ok\n", "y".repeat(300)]))).toEqual(["ok", { kind: "oversized", chars: 300 }]);
  });
});

describe("readLogStream: bad input is counted and skipped, never fatal", () => {
  test("format detection", () => {
    expect(detectFormat('{"MESSAGE":"x"}')).toBe("journal-json");
    expect(detectFormat("6,344,4095361485,-;python3 invoked oom-killer")).toBe("kmsg");
    expect(detectFormat("[ 4095.361485] python3 invoked oom-killer")).toBe("dmesg");
  });

  test("malformed, truncated, non-object and oversized lines between valid entries", async () => {
    const real = (await Bun.file(fixturePath("real/segfault-python.jsonl")).text()).split("\n").filter(Boolean);
    const text = [
      real[0],
      "{ this is not json",
      (real[1] as string).slice(0, 200), // truncated mid-record
      "[1, 2, 3]",
      "x".repeat(1_100_000), // a 1 MB line
      "",
      real[2],
      ...real.slice(3),
    ].join("\n");
    const bad: BadLineKind[] = [];
    const stats = newStats();
    const entries = [];
    for await (const e of readLogStream(streamOf(text), { year: 2026, onBadLine: (kind) => bad.push(kind) }, stats)) entries.push(e);
    expect(entries).toHaveLength(real.length - 1);
    expect(bad).toEqual(["malformed-json", "malformed-json", "malformed-json", "oversized"]);
    expect(stats.bad).toEqual({ "malformed-json": 3, oversized: 1, "bad-kmsg-record": 0 });
  });

  test("the segfault survives the garbage around it", async () => {
    const real = await Bun.file(fixturePath("real/segfault-python.jsonl")).text();
    const noisy = real
      .split("\n")
      .flatMap((l) => [l, "\u0000\u0001garbage{", "}"])
      .join("\n");
    const run = await triageText(noisy);
    expect(run.candidates.filter((c) => c.rule === "kernel-segfault").map((c) => c.pid)).toEqual([4516]);
    expect(run.stats.bad["malformed-json"]).toBeGreaterThan(0);
  });

  test("empty input: no entries, no format, no error", async () => {
    const stats = newStats();
    expect(await readEntries(streamOf(""), stats)).toEqual([]);
    expect(stats.format).toBeNull();
    expect(await readEntries(streamOf("\n\n  \n"))).toEqual([]);
  });

  test("binary input read as dmesg text does not throw", async () => {
    const bytes = new Uint8Array(4096).map((_, i) => (i * 37) % 256);
    const entries = await readEntries(new Blob([bytes]).stream());
    expect(Array.isArray(entries)).toBe(true);
  });

  test("kmsg records with continuation lines; a stray line is counted", async () => {
    const text = "6,1,100,-;first\n SUBSYSTEM=pci\n DEVICE=+pci:0000:00:1f.2\nnot a record\n4,2,200,-;second\n";
    const stats = newStats();
    const entries = await readEntries(streamOf(text), stats);
    expect(entries.map((e) => e.message)).toEqual(["first", "second"]);
    expect(entries[0]?.fields["SUBSYSTEM"]).toBe("pci");
    expect(stats.bad["bad-kmsg-record"]).toBe(1);
  });
});
