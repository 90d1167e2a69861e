/**
 * Class labels for two-class training (CGCNN's classification mode): the targets themselves
 * when they are 0/1, or `target > threshold` (e.g. a band gap above 0 eV: "not a metal").
 * @module
 */

import type { GraphSet } from "../crystal/types.ts";

/**
 * Replaces the targets of `graphs` by class labels in place and returns how many are class 1.
 * Without a threshold every target must already be 0 or 1; the first one that is not is an
 * error naming the structure and suggesting a threshold.
 */
export function toClassLabels(
  graphs: GraphSet,
  threshold: number | undefined,
  what: string,
): number {
  let positives = 0;
  for (let i = 0; i < graphs.count; i++) {
    const t = graphs.targets[i];
    let y: number;
    if (threshold !== undefined) y = t > threshold ? 1 : 0;
    else if (t === 0 || t === 1) y = t;
    else {
      throw new RangeError(
        `classification needs 0/1 targets: ${what} structure ${
          JSON.stringify(graphs.ids[i])
        } has ${t}; give a threshold (--threshold T: class 1 is target > T)`,
      );
    }
    graphs.targets[i] = y;
    positives += y;
  }
  return positives;
}
