import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

// The layers of src/, top to bottom. A module may import its own layer (its own folder) and any
// layer below it, never one above, and no chain of imports may come back to where it started.
// Every import counts: static, `import type`, re-exports and dynamic `import()`. There are no
// exceptions; a new import against the order is a design question, answered by moving the
// shared piece down (a type, a pure function), not by an entry here.
//
// Why this order:
// - bin.ts starts main.ts, which dispatches to one cli/ command.
// - cli/ is what a person runs; `logtriage daemon` is one of its commands, so daemon/ sits below.
// - daemon/ wires everything together and serves the HTTP API, so http/ is below the daemon and
//   knows nothing of it: it answers from the store and the metrics it is handed.
// - notify/ (ntfy, the outbox sender, the digest) and metrics/ are reporters: they read the store
//   and words from text/, and nothing below calls them. Storing an event never calls notify/.
// - enrich/ finds root causes; it reads the machine's history (host/), the monitors' state and
//   the journal, and writes into the store.
// - monitors/ (PSI, SMART, timers, probes) and sources/ (journal, kmsg, file) produce candidates
//   and entries; both take typed settings from config/.
// - store/ keeps events, incidents, alerts and snapshots; a failure snapshot holds host/
//   readings, so host/ (readings of /proc and the system) is below it, and an incident row is
//   an incidents/ value, so incidents/ is below it too.
// - incidents/ decides an incident's life (fingerprint, open/update/resolve, the alert policy);
//   pure, it reads the policy's settings from config/ types.
// - config/ validates the user's file into typed values. It sits above classify/, text/ and
//   parse/ because it uses their shapes and parsers (a custom rule's shape, durations, ntfy
//   URLs); those layers take plain values and never read the config themselves.
// - classify/ turns entries into candidates; it names cgroups for host/ and words for events
//   come from text/ below it.
// - text/ turns events into words (alert text, describeCandidate, the formatters); pure.
// - parse/ is pure parsers: a string in, a value out.
// - At the bottom, leaf modules that import nothing of ours: the event shapes (event.ts) and
//   small utilities. They may not import each other either.
const LAYERS: readonly (readonly string[])[] = [
  ["bin.ts"],
  ["main.ts"],
  ["cli"],
  ["daemon"],
  ["http"],
  ["notify"],
  ["metrics"],
  ["enrich"],
  ["monitors"],
  ["sources"],
  ["store"],
  ["incidents"],
  ["config"],
  ["host"],
  ["classify"],
  ["text"],
  ["parse"],
  ["event.ts", "log.ts", "run.ts", "sleep.ts", "version.ts", "fetch-failure.ts"],
];

const SRC = resolve(import.meta.dir, "../../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

// `import … from "x"`, `export … from "x"`, `import "x"` and `import("x")`. A dynamic import of
// anything but a string literal is reported, since its target cannot be checked.
const STATIC = /^\s*(?:import|export)\s(?:[^"'`;]*?\sfrom\s*)?["']([^"']+)["']/gm;
const DYNAMIC = /\bimport\(\s*([^)]*?)\s*\)/g;

interface Import {
  from: string;
  to: string;
  line: number;
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split("\n").length;
}

function importsOf(file: string): { imports: Import[]; unreadable: string[] } {
  const text = readFileSync(file, "utf8");
  const imports: Import[] = [];
  const unreadable: string[] = [];
  const from = relative(SRC, file);
  const add = (spec: string, index: number) => {
    if (!spec.startsWith(".")) return; // a package (valibot, bun:sqlite): not a layer
    imports.push({ from, to: relative(SRC, resolve(dirname(file), spec)), line: lineOf(text, index) });
  };
  for (const m of text.matchAll(STATIC)) add(m[1] as string, m.index);
  for (const m of text.matchAll(DYNAMIC)) {
    const literal = /^["']([^"'`]+)["']$/.exec(m[1] as string);
    if (literal) add(literal[1] as string, m.index);
    else unreadable.push(`${from}:${lineOf(text, m.index)} import(${m[1]})`);
  }
  return { imports, unreadable };
}

/** The unit an import is judged by: the top folder under src/, or the file at src/'s root. */
function unitOf(path: string): string {
  return path.split("/")[0] as string;
}

function layerOf(unit: string): number {
  return LAYERS.findIndex((layer) => layer.includes(unit));
}

const files = sourceFiles(SRC);
const all = files.map(importsOf);
const imports = all.flatMap((f) => f.imports).filter((i) => !i.to.startsWith(".."));

test("every import in src/ can be read", () => {
  expect(files.length).toBeGreaterThan(50);
  expect(imports.length).toBeGreaterThan(200);
  expect(all.flatMap((f) => f.unreadable)).toEqual([]);
});

test("every folder and root module of src/ has a layer", () => {
  const units = new Set(files.map((f) => unitOf(relative(SRC, f))));
  expect([...units].filter((u) => layerOf(u) < 0)).toEqual([]);
  // And the list names nothing that is gone.
  expect(LAYERS.flat().filter((u) => !units.has(u))).toEqual([]);
});

test("no import reaches a layer above its own, or sideways into another unit of the same layer", () => {
  const wrong = imports
    .filter((i) => unitOf(i.from) !== unitOf(i.to))
    .filter((i) => layerOf(unitOf(i.to)) <= layerOf(unitOf(i.from)))
    .map((i) => `${i.from}:${i.line} imports ${i.to} (${unitOf(i.from)} may only import layers below it)`);
  expect(wrong).toEqual([]);
});

test("no import circle, between files or between folders", () => {
  const edges = new Map<string, Set<string>>();
  for (const i of imports) {
    const targets = edges.get(i.from) ?? new Set<string>();
    targets.add(i.to);
    edges.set(i.from, targets);
  }
  // Depth-first search with the path on a stack; a back edge to a node on the stack is a circle.
  const circles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === "open") circles.push([...stack.slice(stack.indexOf(next)), next].join(" → "));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of edges.keys()) if (!state.has(node)) visit(node);
  expect(circles).toEqual([]);
});
