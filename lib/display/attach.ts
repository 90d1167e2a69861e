/**
 * Attaches notebook display to values of the layers below: structures, data sets, training and
 * experiment results, and tensors. Those layers know nothing of Jupyter; `decorated.ts` applies
 * these to what `mod.ts` exports. The renderers (and Plotly) load on first display only.
 * @module
 */

import type { Dataset, DatasetEntry, Structure } from "../crystal/types.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { ExperimentResult } from "../train/experiment.ts";
import type { TrainResult } from "../train/trainer.ts";
import { attachDisplay, JUPYTER_DISPLAY, type MimeBundle } from "./protocol.ts";
import { tensorBundle } from "./tensor.ts";

/**
 * Makes a structure display itself in the Deno kernel (3-D view of atoms and unit cell with
 * its formula). Returns the same object; its type, JSON and equality are unchanged.
 *
 * @example
 * ```ts
 * import { type Structure, withDisplay } from "@facgcnn/toolkit";
 * const s: Structure = withDisplay({
 *   id: "Fe",
 *   lattice: new Float64Array([2.87, 0, 0, 0, 2.87, 0, 0, 0, 2.87]),
 *   frac: new Float64Array([0, 0, 0, 0.5, 0.5, 0.5]),
 *   numbers: new Int32Array([26, 26]),
 * });
 * s; // in a Deno notebook: 3-D view of the bcc cell under "Fe: Fe (Fe2), 2 atoms, …"
 * ```
 */
export function withDisplay<T extends Structure>(structure: T): T {
  return attachDisplay(
    structure,
    async (s) => (await import("./structure.ts")).structureBundle(s),
  );
}

/**
 * Makes every structure that `dataset.get(i)` returns display itself (see {@linkcode withDisplay}).
 * Decorates `dataset` in place (an own `get` that calls the original) and returns it, so its
 * class, other fields and identity are kept.
 */
export function withDatasetDisplay<T extends Dataset>(dataset: T): T {
  if (!Object.isExtensible(dataset)) return dataset;
  const get = dataset.get;
  const own = Object.getOwnPropertyDescriptor(dataset, "get");
  Object.defineProperty(dataset, "get", {
    value: (i: number): DatasetEntry => {
      const entry = get.call(dataset, i);
      withDisplay(entry.structure);
      return entry;
    },
    enumerable: own?.enumerable ?? false,
    writable: true,
    configurable: true,
  });
  return dataset;
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

/**
 * Gives every {@linkcode Tensor} a Jupyter display (shape, dtype, device and the first values):
 * a non-enumerable method on `Tensor.prototype`, like a class method. Idempotent.
 */
export function installTensorDisplay(): void {
  if (Object.hasOwn(Tensor.prototype, JUPYTER_DISPLAY)) return;
  Object.defineProperty(Tensor.prototype, JUPYTER_DISPLAY, {
    value: function (this: Tensor): MimeBundle {
      return tensorBundle(this);
    },
    enumerable: false,
    writable: true,
    configurable: true,
  });
}
