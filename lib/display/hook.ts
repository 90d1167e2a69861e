/**
 * Jupyter display hooks. The Deno kernel shows a cell's value through its
 * `[Symbol.for("Jupyter.display")]()` method (a MIME bundle, possibly async); anywhere else
 * the method is never called, so attaching one is harmless. Nothing here reads
 * `Deno.jupyter` (it throws outside the kernel), and this module imports no Plotly code:
 * renderers are loaded on first display.
 * @module
 */

import type { Structure } from "../crystal/types.ts";
import type { ExperimentResult } from "../train/experiment.ts";
import type { TrainResult } from "../train/trainer.ts";

/** The well-known symbol the Deno Jupyter kernel looks up: `Symbol.for("Jupyter.display")`. */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display") as never;

/** A Jupyter MIME bundle: MIME type → data (`"text/plain"`, `"text/html"`, Plotly JSON, …). */
export type MimeBundle = Record<string, unknown>;

/** Anything the Deno kernel can display richly. */
export interface Displayable {
  /** Returns the MIME bundle to show (called by the Deno kernel only). */
  [JUPYTER_DISPLAY](): MimeBundle | Promise<MimeBundle>;
}

/**
 * Attaches a non-enumerable `[Symbol.for("Jupyter.display")]` method to `target` and returns
 * it. Non-enumerable symbol keys are invisible to `JSON.stringify`, `Object.keys`, spread,
 * `structuredClone` (which drops them) and `node:assert`'s `deepStrictEqual`, so plain data
 * objects keep their type and equality. Frozen or sealed objects are returned unchanged.
 */
export function attachDisplay<T extends object>(
  target: T,
  render: (value: T) => MimeBundle | Promise<MimeBundle>,
): T {
  if (!Object.isExtensible(target) || Object.hasOwn(target, JUPYTER_DISPLAY)) return target;
  Object.defineProperty(target, JUPYTER_DISPLAY, {
    value: () => render(target),
    enumerable: false,
    writable: true,
    configurable: true,
  });
  return target;
}

/**
 * Makes a structure display itself in the Deno kernel (3-D view of atoms and unit cell with
 * its formula). Returns the same object; its type, JSON and equality are unchanged.
 */
export function withDisplay<T extends Structure>(structure: T): T {
  return attachDisplay(
    structure,
    async (s) => (await import("./structure.ts")).structureBundle(s),
  );
}

/** Makes `train()`'s result display its learning curves in the Deno kernel. */
export function withTrainingDisplay<T extends TrainResult>(result: T): T {
  return attachDisplay(
    result,
    async (r) => (await import("./results.ts")).trainingBundle(r),
  );
}

/** Makes `runExperiment()`'s result display its table in the Deno kernel. */
export function withExperimentDisplay<T extends ExperimentResult>(result: T): T {
  return attachDisplay(
    result,
    async (r) => (await import("./results.ts")).experimentBundle(r),
  );
}
