import type { RuleSpec } from "./rule-spec.ts";
import { CONTEXT_RULES } from "./rules/context.ts";
import { OOM_RULES } from "./rules/oom.ts";
import { CRASH_RULES } from "./rules/crash.ts";
import { SERVICE_RULES } from "./rules/service.ts";
import { STORAGE_RULES } from "./rules/storage.ts";
import { BACKSTOP_RULES, KERNEL_RULES } from "./rules/kernel.ts";
import { GPU_RULES } from "./rules/gpu.ts";
import { HARDWARE_RULES } from "./rules/hardware.ts";
import { PRESSURE_RULES } from "./rules/pressure.ts";

// The built-in rule table. Rules are data: each names what it matches (MESSAGE_ID first,
// then transport / identifier, then message patterns) and how to describe a match. The
// classifier (classifier.ts) is a loop over this table with a literal prefilter.
//
// `literals` is the prefilter: a rule with a pattern runs only on messages containing one
// of its literals, so benign lines cost one combined scan. Literals are plain ASCII with
// no quote or backslash, so they also appear verbatim in a raw journal JSON line.
//
// `tier: null` marks lines we know and deliberately do not tier (look-alikes, context that
// another event already covers): they stop the search so no later rule mis-tiers them.

export const BUILTIN_RULES: readonly RuleSpec[] = [
  ...CONTEXT_RULES,
  ...OOM_RULES,
  ...CRASH_RULES,
  ...SERVICE_RULES,
  ...STORAGE_RULES,
  ...KERNEL_RULES,
  ...HARDWARE_RULES,
  ...GPU_RULES,
  ...PRESSURE_RULES,
  // Last: it takes what no rule above named.
  ...BACKSTOP_RULES,
];
