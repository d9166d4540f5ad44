import { dlopen, FFIType } from "bun:ffi";

// The libc calls the daemon makes about its own memory (trim.ts, mlock.ts), opened once on
// first use and kept: every dlopen compiles its call trampolines anew.

function open() {
  return dlopen("libc.so.6", {
    madvise: { args: [FFIType.u64, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
    mlockall: { args: [FFIType.i32], returns: FFIType.i32 },
    mlock2: { args: [FFIType.u64, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
    munlockall: { args: [], returns: FFIType.i32 },
    malloc_trim: { args: [FFIType.u64], returns: FFIType.i32 },
  });
}

let handle: ReturnType<typeof open> | null = null;

/** Throws when libc cannot be opened (not glibc, no bun:ffi): callers say so and go on. */
export function memoryLibc(): ReturnType<typeof open>["symbols"] {
  handle ??= open();
  return handle.symbols;
}
