import type { Database } from "bun:sqlite";

// An event's enrichment, written once, after the event: its lines join the event's detail (so
// `show`, the alert and the digest all say the same), a found cause may replace the summary,
// and the evidence and the gaps are kept as they are for `show --json`.

export interface EnrichmentSection {
  enricher: string;
  lines: string[];
  evidence: Record<string, unknown> | null;
  /** What this enricher could not gather, in words. */
  missing: string[];
}

export interface EnrichmentRecord {
  completedUs: number;
  sections: EnrichmentSection[];
}

/** The detail text: the rule's description, each enricher's lines, then what is unknown. */
export function enrichedDetail(baseDetail: string, sections: readonly EnrichmentSection[]): string {
  const parts = [baseDetail.trimEnd()];
  for (const s of sections) if (s.lines.length) parts.push(s.lines.join("\n"));
  const missing = sections.flatMap((s) => s.missing);
  if (missing.length) parts.push(["Not gathered:", ...missing.map((m) => `  - ${m}`)].join("\n"));
  return parts.filter((p) => p !== "").join("\n\n");
}

export function saveEnrichment(db: Database, eventId: string, record: EnrichmentRecord, summary: string | null): void {
  const row = db.query("SELECT detail FROM events WHERE id = ?").get(eventId) as { detail: string } | null;
  // Gone already (retention, or a test's fresh database): nothing to add to.
  if (!row) return;
  saveEnrichmentOver(db, eventId, row.detail, record, summary);
}

/**
 * One enricher's answer that came after the event's enrichment was saved (and its alert went
 * out): it replaces that enricher's section, the detail is written again from the rule's own
 * text, and a cause it names replaces the summary. Returns false when the event is gone or was
 * never enriched (nothing to replace into).
 */
export function replaceEnrichmentSection(
  db: Database,
  eventId: string,
  section: EnrichmentSection,
  summary: string | null,
  nowUs: number,
): boolean {
  const row = db.query("SELECT detail, enrichment_json FROM events WHERE id = ?").get(eventId) as {
    detail: string;
    enrichment_json: string | null;
  } | null;
  if (!row?.enrichment_json) return false;
  const old = JSON.parse(row.enrichment_json) as EnrichmentRecord;
  // The stored detail is the rule's text followed by what enrichedDetail added: take that off.
  const added = enrichedDetail("", old.sections);
  const base = added !== "" && row.detail.endsWith(added) ? row.detail.slice(0, row.detail.length - added.length) : row.detail;
  const sections = old.sections.some((s) => s.enricher === section.enricher)
    ? old.sections.map((s) => (s.enricher === section.enricher ? section : s))
    : [...old.sections, section];
  saveEnrichmentOver(db, eventId, base, { completedUs: nowUs, sections }, summary);
  return true;
}

function saveEnrichmentOver(db: Database, eventId: string, baseDetail: string, record: EnrichmentRecord, summary: string | null): void {
  db.query("UPDATE events SET detail = ?2, enrichment_json = ?3, summary = coalesce(?4, summary) WHERE id = ?1").run(
    eventId,
    enrichedDetail(baseDetail, record.sections),
    JSON.stringify(record),
    summary,
  );
}
