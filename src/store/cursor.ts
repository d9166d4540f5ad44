import type { Database } from "bun:sqlite";

// Where each source resumes. Written in the same transaction as the events read up to that
// point (see daemon/pipeline.ts), so after kill -9 the daemon re-reads exactly what it had
// not committed: nothing lost, nothing counted twice.

export function loadCursor(db: Database, source: string): string | null {
  const row = db.query("SELECT cursor FROM source_cursors WHERE source = ?").get(source) as { cursor: string } | null;
  return row?.cursor ?? null;
}

export function saveCursor(db: Database, source: string, cursor: string, nowUs: number): void {
  db.query(
    `INSERT INTO source_cursors (source, cursor, updated_us) VALUES (?1, ?2, ?3)
     ON CONFLICT(source) DO UPDATE SET cursor = excluded.cursor, updated_us = excluded.updated_us`,
  ).run(source, cursor, nowUs);
}
