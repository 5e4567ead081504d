// Percentiles, and the live/summary lines the commands print.
import { nonZeroDrops, type Counters } from "./counters.js";

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function median(xs: readonly number[]): number {
  return percentile([...xs].sort((a, b) => a - b), 50);
}

export function formatRate(perSec: number): string {
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(2)} M`;
  if (perSec >= 1e3) return `${(perSec / 1e3).toFixed(1)} k`;
  return perSec.toFixed(0) + " ";
}

export function dropSummary(...counters: Counters[]): string {
  const all: Record<string, number> = {};
  for (const c of counters) for (const [k, v] of Object.entries(nonZeroDrops(c))) all[k] = (all[k] ?? 0) + v;
  const parts = Object.entries(all).map(([k, v]) => `${k}=${v}`);
  return parts.length === 0 ? "none" : parts.join(" ");
}

/** A line rewritten in place on a terminal; nothing when stdout is a pipe or a file (quiet for scripts). */
export class LiveLine {
  private readonly tty = process.stdout.isTTY === true;
  private shown = false;
  update(text: string): void {
    if (!this.tty) return;
    process.stdout.write(`\r\x1b[2K${text}`);
    this.shown = true;
  }
  end(): void { if (this.shown) process.stdout.write("\n"); this.shown = false; }
}
