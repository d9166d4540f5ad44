// A flood of incidents (a disk throwing errors on every sector, a fork bomb of crashes) must
// not become a flood of phone notifications: ntfy lets a client publish a burst of 60 and then
// one every 5 s, and ntfy.sh's free tier 250 a day (docs.ntfy.sh/publish/#limitations). So at
// most `maxOpens` incidents a minute get their own notification; the rest are counted and
// told in one summary notification, updated in place. Pure: time is an argument.

export const FLOOD_WINDOW_US = 60 * 1_000_000;

export interface FloodSummary {
  count: number;
  /** The first few summaries, for the message. */
  samples: string[];
  /** An event of the last one, for the outbox row. */
  lastEventId: string;
}

export class FloodGate {
  private readonly maxOpens: number;
  private opens: number[] = [];
  private held: FloodSummary | null = null;
  private lastSummaryUs = -Infinity;

  constructor(maxOpens = 10) {
    this.maxOpens = maxOpens;
  }

  /** Whether an incident opening now gets its own notification; if not, it is counted for the summary. */
  admit(nowUs: number, summary: string, eventId: string): boolean {
    this.opens = this.opens.filter((t) => nowUs - t < FLOOD_WINDOW_US);
    if (this.opens.length < this.maxOpens) {
      this.opens.push(nowUs);
      return true;
    }
    const held = this.held ?? { count: 0, samples: [], lastEventId: eventId };
    held.count++;
    if (held.samples.length < 15) held.samples.push(summary);
    held.lastEventId = eventId;
    this.held = held;
    return false;
  }

  /** The summary to send now (at most one a minute), or null. */
  takeSummary(nowUs: number): FloodSummary | null {
    if (this.held === null || nowUs - this.lastSummaryUs < FLOOD_WINDOW_US) return null;
    const out = this.held;
    this.held = null;
    this.lastSummaryUs = nowUs;
    return out;
  }
}
