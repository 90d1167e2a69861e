/**
 * Reporting of skipped structures, the same for every command: how many were dropped at each
 * stage (reading, featurization), the first few ids and reasons, and all of them as CSV
 * (`id,stage,reason`) so nothing is dropped without a trace.
 * @module
 */

import type { SkippedEntry } from "../crystal/types.ts";
import { writeTextAtomic } from "../io/atomic.ts";

const STAGES = { load: "while reading", featurize: "while featurizing (no graph)" } as const;

/**
 * Lines describing `skipped` out of `total` structures: a count per stage and the first
 * `show` reasons; `file` (where the full list goes) is named when given. Empty when nothing
 * was skipped.
 */
export function skippedReport(
  skipped: readonly SkippedEntry[],
  total: number,
  file?: string,
  show = 3,
): string[] {
  if (skipped.length === 0) return [];
  const counts = new Map<string, number>();
  for (const s of skipped) {
    const k = s.stage ? STAGES[s.stage] : "while reading or featurizing";
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const parts = [...counts].map(([k, n]) => `${n} ${k}`).join(", ");
  const lines = [
    `skipped ${skipped.length} of ${total} structures: ${parts}` +
    (file ? `; all listed in ${file}` : ""),
  ];
  for (const s of skipped.slice(0, show)) lines.push(`  - ${s.id}: ${s.reason}`);
  if (skipped.length > show) lines.push(`  … ${skipped.length - show} more`);
  return lines;
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** `id,stage,reason` CSV of `skipped` (header only when none). */
export function skippedCsv(skipped: readonly SkippedEntry[]): string {
  const rows = ["id,stage,reason"];
  for (const s of skipped) rows.push([s.id, s.stage ?? "", s.reason].map(csvField).join(","));
  return rows.join("\n") + "\n";
}

/** Writes {@link skippedCsv} to `path` atomically. */
export function writeSkippedCsv(path: string, skipped: readonly SkippedEntry[]): Promise<void> {
  return writeTextAtomic(path, skippedCsv(skipped));
}
