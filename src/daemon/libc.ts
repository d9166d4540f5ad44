import { dlopen, FFIType } from "bun:ffi";

// The libc calls the daemon makes about itself: its own memory (trim.ts, mlock.ts) and its
// own program image (restart.ts). Each set is opened once, on first use, and kept: every
// dlopen compiles its call trampolines anew.

function openMemory() {
  return dlopen("libc.so.6", {
    madvise: { args: [FFIType.u64, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
    mlockall: { args: [FFIType.i32], returns: FFIType.i32 },
    mlock2: { args: [FFIType.u64, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
    munlockall: { args: [], returns: FFIType.i32 },
    malloc_trim: { args: [FFIType.u64], returns: FFIType.i32 },
  });
}

function openProcess() {
  return dlopen("libc.so.6", {
    execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    // close_range(2) through syscall(2): glibc has a wrapper only since 2.34, and one missing
    // symbol would fail the whole dlopen.
    syscall: { args: [FFIType.i64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i64 },
    fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  });
}

let memory: ReturnType<typeof openMemory> | null = null;
let processCalls: ReturnType<typeof openProcess> | null = null;

/** Throws when libc cannot be opened (not glibc, no bun:ffi): callers say so and go on. */
export function memoryLibc(): ReturnType<typeof openMemory>["symbols"] {
  memory ??= openMemory();
  return memory.symbols;
}

/** Throws as memoryLibc does. */
export function processLibc(): ReturnType<typeof openProcess>["symbols"] {
  processCalls ??= openProcess();
  return processCalls.symbols;
}
