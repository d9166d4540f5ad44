import { formatKeyPath } from "./_key-lines.ts";
import { describeValue } from "./schema.ts";
import { closestName } from "./suggest.ts";

// Unknown keys, found by walking the file against the schema before validation. valibot's
// strictObject reports only the first unknown key of a table and cannot suggest a name, and
// a misspelt key is the most common config mistake, so it gets its own pass.

/**
 * The parts of a valibot schema that say how it nests: strictObject has `entries`, optional
 * `wrapped`, array `item`. valibot schemas are plain objects, so the config schema is read
 * structurally and the key list lives in one place, the schema.
 */
export interface SchemaNode {
  readonly type: string;
  readonly entries?: Readonly<Record<string, SchemaNode>>;
  readonly wrapped?: SchemaNode;
  readonly item?: SchemaNode;
  /** record: the schema of each value (`[services.NAME]` tables). */
  readonly value?: SchemaNode;
}

export interface KeyProblem {
  path: (string | number)[];
  /** Without the file location; the caller adds it. */
  message: string;
}

export function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function unwrap(node: SchemaNode): SchemaNode {
  return node.type === "optional" && node.wrapped ? unwrap(node.wrapped) : node;
}

/** The one top-level section, other than `current`, that has `key`; null if none or several. */
function homeSection(root: SchemaNode, key: string, current: string | null): string | null {
  const owners = Object.entries(root.entries ?? {})
    .filter(([section, node]) => section !== current && unwrap(node).entries?.[key] !== undefined)
    .map(([section]) => section);
  return owners.length === 1 ? (owners[0] ?? null) : null;
}

function unknownKeyMessage(root: SchemaNode, table: SchemaNode, path: readonly (string | number)[], key: string, value: unknown): string {
  const names = Object.keys(table.entries ?? {});
  const suggestion = closestName(key, names);
  if (path.length === 0) {
    if (isTable(value)) return `unknown section [${key}]${suggestion ? ` — did you mean [${suggestion}]?` : ""}`;
    if (suggestion) return `unknown key "${key}" — did you mean [${suggestion}]?`;
    const section = homeSection(root, key, null);
    return `unknown key "${key}"${section ? ` — "${key}" belongs in [${section}]` : " at the top level (keys go under a [section])"}`;
  }
  const full = formatKeyPath([...path, key]);
  if (suggestion) return `unknown key "${full}" — did you mean "${suggestion}"?`;
  const section = path.length === 1 && typeof path[0] === "string" ? homeSection(root, key, path[0]) : null;
  return `unknown key "${full}"${section ? ` — "${key}" belongs in [${section}]` : ""}`;
}

/** Unknown keys, and tables given as something else, in file order. */
export function findKeyProblems(value: unknown, root: SchemaNode): KeyProblem[] {
  const problems: KeyProblem[] = [];
  const walk = (current: unknown, schema: SchemaNode, path: (string | number)[]): void => {
    const node = unwrap(schema);
    if (node.entries) {
      if (!isTable(current)) {
        problems.push({ path, message: `${formatKeyPath(path)}: expected a table, got ${describeValue(current)}` });
        return;
      }
      for (const [key, child] of Object.entries(current)) {
        const childSchema = node.entries[key];
        if (childSchema) walk(child, childSchema, [...path, key]);
        else problems.push({ path: [...path, key], message: unknownKeyMessage(root, node, path, key, child) });
      }
    } else if (node.type === "record" && node.value && isTable(current)) {
      const each = node.value;
      for (const [key, child] of Object.entries(current)) walk(child, each, [...path, key]);
    } else if (node.type === "array" && node.item && Array.isArray(current)) {
      const item = node.item;
      current.forEach((element: unknown, index) => walk(element, item, [...path, index]));
    }
  };
  walk(value, root, []);
  return problems;
}
