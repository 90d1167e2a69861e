/**
 * Jupyter display for the Deno kernel: structures, training runs, predictions, experiment
 * tables, figures and tensors. Every view has a `[Symbol.for("Jupyter.display")]()` method
 * (harmless outside the kernel) and a plain `toString()`.
 * @module
 */

export { attachDisplay, type Displayable, JUPYTER_DISPLAY, type MimeBundle } from "./protocol.ts";
export {
  installTensorDisplay,
  withDatasetDisplay,
  withDisplay,
  withExperimentDisplay,
  withTrainingDisplay,
} from "./attach.ts";
export {
  elementColor,
  showStructure,
  structureBundle,
  structureFigure,
  type StructureFigureOptions,
  structureSummary,
  StructureView,
} from "./structure.ts";
export {
  experimentBundle,
  experimentHtml,
  experimentMarkdown,
  ExperimentTable,
  FigureView,
  PredictionResult,
  showExperiment,
  showFigure,
  showPredictions,
  showTraining,
  trainingBundle,
  trainingSummary,
} from "./results.ts";
export { tensorBundle, tensorPreview } from "./tensor.ts";
export {
  figureBundle,
  PlotlyLibrary,
  plotlyLibrary,
  standaloneFigureBundle,
} from "./plotly_view.ts";

import { showStructure } from "./structure.ts";
import { showExperiment, showFigure, showPredictions, showTraining } from "./results.ts";

/**
 * All displays in one object: `display.structure(s)`, `display.training(run)`,
 * `display.predictions(targets, predictions)`, `display.experiment(result)`,
 * `display.figure(fig)`.
 *
 * @example
 * ```ts
 * import { display, syntheticCrystals } from "@facgcnn/toolkit";
 * const s = syntheticCrystals({ count: 1, seed: 0 }).get(0).structure;
 * display.structure(s); // in a Deno notebook cell: 3-D view; elsewhere String(...) is a summary
 * ```
 */
export const display: {
  structure: typeof showStructure;
  training: typeof showTraining;
  predictions: typeof showPredictions;
  experiment: typeof showExperiment;
  figure: typeof showFigure;
} = {
  structure: showStructure,
  training: showTraining,
  predictions: showPredictions,
  experiment: showExperiment,
  figure: showFigure,
};
