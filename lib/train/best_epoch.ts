/**
 * Which epoch's weights a run keeps (`best.safetensors`, the model `train` returns, the epoch
 * early stopping counts from). Regression: the lowest validation MAE. Classification: the
 * highest validation AUC, as CGCNN selects its best model for classification (ROC AUC, higher
 * is better; Xie & Grossman 2018, the reference implementation's `best_mae_error` holds the
 * AUC there). Ties keep the earlier epoch, so an equal later score never replaces the model.
 * @module
 */

/** The validation scores of one epoch (`auc` only for classification runs). */
export interface EpochScore {
  /** Validation MAE. */
  valMae: number;
  /** Validation ROC AUC (classification); NaN when the validation set holds one class. */
  valAuc?: number;
}

/**
 * True when `score` replaces `best` (null: no epoch yet). Classification compares AUC; where
 * an AUC is undefined (one class in the validation set) a defined AUC wins, and two undefined
 * AUCs fall back to the MAE of the probabilities. A NaN MAE never wins.
 */
export function isNewBest(score: EpochScore, best: EpochScore | null): boolean {
  const lowerMae = score.valMae < (best?.valMae ?? Infinity);
  if (score.valAuc === undefined) return lowerMae;
  const auc = score.valAuc;
  const bestAuc = best?.valAuc ?? NaN;
  if (Number.isFinite(auc)) return !Number.isFinite(bestAuc) || auc > bestAuc;
  return !Number.isFinite(bestAuc) && lowerMae;
}
