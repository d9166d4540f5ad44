#!/usr/bin/env bun
import { main } from "./main.ts";

// The executable's entry point. No top-level await and no import.meta: the compiled binary
// is precompiled bytecode, which Bun builds as CommonJS.
void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
