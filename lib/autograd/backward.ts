/**
 * Reverse-mode differentiation: a topological walk from a scalar back to the leaves, with one
 * exhaustive `switch` over the op kinds (candle's `backprop.rs`).
 *
 * Gradients of intermediates are freed as soon as they have been propagated, so the peak
 * memory of a backward pass is about one layer's worth of gradients above the forward's.
 *
 * Importing this module installs {@linkcode backward} as the implementation of
 * `Tensor.backward()` (the tensor layer below does not import autograd).
 * @module
 */

import type { Backend, Broadcast, Storage } from "../backend/backend.ts";
import { edgeSourceWeightGrad } from "../tensor/edge_source.ts";
import type { Op } from "../tensor/op.ts";
import { opInputs } from "../tensor/op.ts";
import { keep, noGrad } from "../tensor/scope.ts";
import { setBackward, type Shape, shapeSize, Tensor } from "../tensor/tensor.ts";
import { syncBatchNormBackward } from "./sync_batch_norm.ts";

/** Tensors reachable from `root` through recorded ops, inputs before users. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length > 0) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (visited.has(t)) continue;
    visited.add(t);
    stack.push([t, true]);
    if (t.op) {
      for (const input of opInputs(t.op)) {
        if (input.requiresGrad && !visited.has(input)) stack.push([input, false]);
      }
    }
  }
  return order;
}

/** Backpropagates from a one-element tensor; accumulates into `.grad` of leaves. */
export function backward(root: Tensor): void {
  if (root.size !== 1) {
    throw new RangeError(`backward() needs a one-element tensor, got [${root.shape.join(", ")}]`);
  }
  if (!root.requiresGrad) {
    throw new Error(
      "backward(): this tensor does not depend on any parameter (or was computed under noGrad)",
    );
  }
  const backend = root.backend;
  const order = topologicalOrder(root);
  const grads = new Map<Tensor, Tensor>();
  // How many holders (entries of `grads`, leaves) each gradient tensor has. A rule may hand
  // its incoming gradient on unchanged to several inputs (add passes g to both operands)
  // instead of copying it; a shared gradient is never written in place (accumulating into it
  // copies first) and is freed when its last holder lets go.
  const holders = new Map<Tensor, number>();
  const hold = (t: Tensor) => holders.set(t, (holders.get(t) ?? 0) + 1);
  /** Drops one holder of `t`; frees it when that was the last. */
  const letGo = (t: Tensor) => {
    const n = (holders.get(t) ?? 0) - 1;
    if (n > 0) holders.set(t, n);
    else {
      holders.delete(t);
      t.dispose();
    }
  };
  /** Frees a freshly made gradient that nobody took. */
  const dropIfUnheld = (t: Tensor) => {
    if (!holders.has(t)) t.dispose();
  };
  noGrad(() => {
    const seed = new Tensor(backend, backend.alloc("float32", 1, false), root.shape);
    backend.fill(seed.storage, 1);
    grads.set(root, seed);
    hold(seed);
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i];
      const g = grads.get(node);
      if (!g) continue;
      grads.delete(node);
      if (node.op === null) {
        // The leaf takes over this holder's share of g (or adds g into its gradient).
        if (accumulateLeaf(node, g, holders.get(g)! > 1)) holders.delete(g);
        else letGo(g);
        continue;
      }
      // Only a gradient this pass holds alone may be written in place by a rule (GEMM β = 1).
      const pending = (t: Tensor) => {
        const p = grads.get(t);
        return p && holders.get(p) === 1 ? p : undefined;
      };
      // g's own holder is kept until the rules have run: they read it.
      for (const [input, gInput] of inputGradients(node, node.op, g, pending)) {
        if (!input.requiresGrad) {
          if (gInput !== g) dropIfUnheld(gInput);
          continue;
        }
        const prev = grads.get(input);
        if (!prev) {
          grads.set(input, gInput);
          hold(gInput);
        } else if (holders.get(prev) === 1) {
          backend.axpby(1, gInput.storage, 1, prev.storage, prev.size);
          if (gInput !== g) dropIfUnheld(gInput);
        } else {
          // prev is shared with another input: the sum goes to a new tensor of this input's.
          const sum = make(backend, prev.shape);
          backend.binary("add", prev.storage, gInput.storage, sum.storage, prev.size, 1, "none");
          letGo(prev);
          grads.set(input, sum);
          hold(sum);
          if (gInput !== g) dropIfUnheld(gInput);
        }
      }
      letGo(g);
    }
  });
}

/**
 * Adds `g` into `leaf.grad`; returns true when `g` itself became the gradient (the leaf takes
 * the caller's hold on it). A `shared` g (still held for another input) is copied instead, so
 * that the leaf owns its gradient outright across backward passes.
 */
function accumulateLeaf(leaf: Tensor, g: Tensor, shared: boolean): boolean {
  if (leaf.grad === null || leaf.grad.disposed) {
    if (!shared) {
      leaf.grad = keep(g); // leaves own their gradient outside every scope
      return true;
    }
    const copy = make(leaf.backend, g.shape);
    leaf.backend.copy(g.storage, copy.storage, g.size);
    leaf.grad = keep(copy);
    return false;
  }
  leaf.backend.axpby(1, g.storage, 1, leaf.grad.storage, leaf.size);
  return false;
}

/** A gradient tensor; `zeroed` when the rule accumulates into it or writes only part of it. */
function make(b: Backend, shape: Shape, zeroed = false): Tensor {
  return new Tensor(b, b.alloc("float32", shapeSize(shape), zeroed), shape);
}

/** `op(a)·op(b)` into a new `[m, n]` tensor. */
function mm(b: Backend, a: Tensor, x: Tensor, tA: boolean, tB: boolean): Tensor {
  const [m, k] = tA ? [a.cols, a.rows] : [a.rows, a.cols];
  const n = tB ? x.rows : x.cols;
  const out = make(b, [m, n]);
  b.gemm({
    transA: tA,
    transB: tB,
    m,
    n,
    k,
    alpha: 1,
    beta: 0,
    a: a.storage,
    lda: a.cols,
    b: x.storage,
    ldb: x.cols,
    c: out.storage,
    ldc: n,
  });
  return out;
}

/** Sums `g` (shaped like `a`) down to the shape of a broadcast operand. */
function reduceTo(b: Backend, g: Storage, rows: number, cols: number, like: Tensor, bc: Broadcast) {
  const out = make(b, like.shape);
  switch (bc) {
    case "none":
      b.copy(g, out.storage, rows * cols);
      break;
    case "row":
      b.sumRows(g, out.storage, rows, cols);
      break;
    case "scalar":
      b.sumAll(g, out.storage, rows * cols);
      break;
    case "col": {
      const ones = b.alloc("float32", cols, false);
      b.fill(ones, 1);
      b.gemm({
        transA: false,
        transB: false,
        m: rows,
        n: 1,
        k: cols,
        alpha: 1,
        beta: 0,
        a: g,
        lda: cols,
        b: ones,
        ldb: 1,
        c: out.storage,
        ldc: 1,
      });
      b.free(ones);
      break;
    }
  }
  return out;
}

/**
 * The gradient of each differentiable input of `node`, given the gradient `g` of its output.
 * `pending(t)` is t's gradient accumulated so far in this pass, if any: a rule that writes only
 * a column block of a weight (CGCNN's `fc_full` is used in three blocks) adds its block into it
 * in place (GEMM with beta 1) instead of returning a zero-padded full-size gradient.
 */
function inputGradients(
  node: Tensor,
  op: Op,
  g: Tensor,
  pending: (t: Tensor) => Tensor | undefined,
): [Tensor, Tensor][] {
  const b = node.backend;
  switch (op.kind) {
    case "matmul": {
      const { a, b: x, transA, transB } = op;
      const out: [Tensor, Tensor][] = [];
      if (a.requiresGrad) {
        out.push([a, transA ? mm(b, x, g, transB, true) : mm(b, g, x, false, !transB)]);
      }
      if (x.requiresGrad) {
        out.push([x, transB ? mm(b, g, a, true, transA) : mm(b, a, g, !transA, false)]);
      }
      return out;
    }
    case "linear": {
      const { x, weight, bias, inputOffset } = op;
      const rows = x.rows, k = x.cols, outF = weight.rows, inF = weight.cols;
      const out: [Tensor, Tensor][] = [];
      if (x.requiresGrad) {
        // x's gradient so far (CGCNN's v feeds W_a v, W_b v and the residual): add into it.
        const prev = pending(x);
        const dx = prev ?? make(b, x.shape);
        b.gemm({
          transA: false,
          transB: false,
          m: rows,
          n: k,
          k: outF,
          alpha: 1,
          beta: prev ? 1 : 0,
          a: g.storage,
          lda: outF,
          b: weight.storage,
          bOffset: inputOffset,
          ldb: inF,
          c: dx.storage,
          ldc: k,
        });
        if (!prev) out.push([x, dx]);
      }
      if (weight.requiresGrad) {
        const prev = pending(weight);
        const dw = prev ?? make(b, weight.shape, true); // only the column block is written
        b.gemm({
          transA: true,
          transB: false,
          m: outF,
          n: k,
          k: rows,
          alpha: 1,
          beta: prev ? 1 : 0,
          a: g.storage,
          lda: outF,
          b: x.storage,
          ldb: k,
          c: dw.storage,
          cOffset: inputOffset,
          ldc: inF,
        });
        if (!prev) out.push([weight, dw]);
      }
      if (bias?.requiresGrad) {
        const db = make(b, bias.shape);
        b.sumRows(g.storage, db.storage, rows, outF);
        out.push([bias, db]);
      }
      return out;
    }
    case "binary": {
      const { a, b: y, broadcast } = op;
      const rows = a.rows, cols = a.cols, n = a.size;
      const out: [Tensor, Tensor][] = [];
      switch (op.op) {
        case "add":
        case "sub": {
          // d(a ± y)/da = g: hand g itself to a, and to y for a same-shape add (no copy; the
          // backward pass never writes a gradient in place while two inputs share it).
          if (a.requiresGrad) out.push([a, g]);
          if (y.requiresGrad) {
            let dy: Tensor;
            if (broadcast !== "none") {
              dy = reduceTo(b, g.storage, rows, cols, y, broadcast);
              if (op.op === "sub") b.affine(dy.storage, dy.storage, -1, 0, dy.size);
            } else if (op.op === "add") dy = g;
            else {
              dy = make(b, y.shape);
              b.affine(g.storage, dy.storage, -1, 0, n);
            }
            out.push([y, dy]);
          }
          return out;
        }
        case "mul": {
          if (a.requiresGrad) {
            const da = make(b, a.shape);
            b.binary("mul", g.storage, y.storage, da.storage, rows, cols, broadcast);
            out.push([a, da]);
          }
          if (y.requiresGrad && broadcast === "none") {
            const dy = make(b, y.shape); // same shape: no temporary to reduce
            b.binary("mul", g.storage, a.storage, dy.storage, rows, cols, "none");
            out.push([y, dy]);
          } else if (y.requiresGrad) {
            const t = b.alloc("float32", n, false);
            b.binary("mul", g.storage, a.storage, t, rows, cols, "none");
            out.push([y, reduceTo(b, t, rows, cols, y, broadcast)]);
            b.free(t);
          }
          return out;
        }
        case "div": {
          if (a.requiresGrad) {
            const da = make(b, a.shape);
            b.binary("div", g.storage, y.storage, da.storage, rows, cols, broadcast);
            out.push([a, da]);
          }
          if (y.requiresGrad) {
            // d(a/y)/dy = −a/y²
            const t = b.alloc("float32", n, false);
            b.binary("mul", g.storage, a.storage, t, rows, cols, "none");
            b.binary("div", t, y.storage, t, rows, cols, broadcast);
            b.binary("div", t, y.storage, t, rows, cols, broadcast);
            b.affine(t, t, -1, 0, n);
            out.push([y, reduceTo(b, t, rows, cols, y, broadcast)]);
            b.free(t);
          }
          return out;
        }
      }
      throw new Error("unreachable");
    }
    case "unary": {
      const dx = make(b, op.x.shape);
      b.unaryBackward(op.op, op.x.storage, node.storage, g.storage, dx.storage, node.size);
      return [[op.x, dx]];
    }
    case "affine": {
      const dx = make(b, op.x.shape);
      b.affine(g.storage, dx.storage, op.alpha, 0, g.size);
      return [[op.x, dx]];
    }
    case "concatCols": {
      const out: [Tensor, Tensor][] = [];
      let at = 0;
      for (const p of op.parts) {
        if (p.requiresGrad) {
          const dp = make(b, p.shape);
          b.copyCols({
            src: g.storage,
            srcLd: node.cols,
            srcCol: at,
            dst: dp.storage,
            dstLd: p.cols,
            dstCol: 0,
            rows: p.rows,
            cols: p.cols,
            accumulate: false,
          });
          out.push([p, dp]);
        }
        at += p.cols;
      }
      return out;
    }
    case "sliceCols": {
      const dx = make(b, op.x.shape, true);
      b.copyCols({
        src: g.storage,
        srcLd: node.cols,
        srcCol: 0,
        dst: dx.storage,
        dstLd: op.x.cols,
        dstCol: op.start,
        rows: node.rows,
        cols: node.cols,
        accumulate: false,
      });
      return [[op.x, dx]];
    }
    case "gatherRows": {
      const dx = make(b, op.x.shape, true);
      b.scatterAddRows(g.storage, op.index.storage, dx.storage, op.index.size, op.x.cols);
      return [[op.x, dx]];
    }
    case "scatterAddRows": {
      const dx = make(b, op.x.shape);
      b.gatherRows(g.storage, op.index.storage, dx.storage, op.index.size, op.x.cols);
      return [[op.x, dx]];
    }
    case "segmentReduce": {
      const dx = make(b, op.x.shape);
      const nSeg = op.offsets.size - 1;
      b.segmentExpand(g.storage, op.offsets.storage, dx.storage, nSeg, op.x.cols, op.mean);
      return [[op.x, dx]];
    }
    case "segmentExpand": {
      const dx = make(b, op.x.shape);
      const nSeg = op.offsets.size - 1;
      b.segmentReduce(g.storage, op.offsets.storage, dx.storage, nSeg, op.x.cols, false);
      return [[op.x, dx]];
    }
    case "sumRows": {
      const dx = make(b, op.x.shape, true);
      b.binary("add", dx.storage, g.storage, dx.storage, op.x.rows, op.x.cols, "row");
      return [[op.x, dx]];
    }
    case "sumAll": {
      const dx = make(b, op.x.shape, true);
      b.binary("add", dx.storage, g.storage, dx.storage, op.x.size, 1, "scalar");
      return [[op.x, dx]];
    }
    case "gate": {
      const dz = make(b, op.z.shape);
      b.gateBackward(op.z.storage, g.storage, dz.storage, node.rows, node.cols);
      return [[op.z, dz]];
    }
    case "batchNorm": {
      const { x, gamma, beta } = op;
      if (op.sync) {
        const r = syncBatchNormBackward(
          b,
          {
            x: x.storage,
            dy: g.storage,
            mean: op.mean.storage,
            variance: op.variance.storage,
            gamma: gamma.storage,
          },
          x.rows,
          x.cols,
          op.eps,
          op.sync,
        );
        return [
          [x, new Tensor(b, b.upload(r.dx), x.shape)],
          [gamma, new Tensor(b, b.upload(r.dGamma), gamma.shape)],
          [beta, new Tensor(b, b.upload(r.dBeta), beta.shape)],
        ];
      }
      const dx = make(b, x.shape), dGamma = make(b, gamma.shape), dBeta = make(b, beta.shape);
      b.batchNormBackward({
        x: x.storage,
        dy: g.storage,
        mean: op.mean.storage,
        variance: op.variance.storage,
        gamma: gamma.storage,
        dx: dx.storage,
        dGamma: dGamma.storage,
        dBeta: dBeta.storage,
        rows: x.rows,
        cols: x.cols,
        eps: op.eps,
        batchStatistics: op.batchStatistics,
      });
      return [[x, dx], [gamma, dGamma], [beta, dBeta]];
    }
    case "edgeCombine": {
      const { self, other, weight, bias, inputOffset, offsets, neighbors } = op;
      const source = "distances" in op.x ? op.x : null, x = source ? null : op.x as Tensor;
      const atoms = offsets.size - 1, edges = g.rows, cols = weight.rows;
      const out: [Tensor, Tensor][] = [];
      // dSelf (segment sums), dOther (neighbour scatter), dBias (column sums) of the same dz:
      // one pass when the backend fuses them.
      const dSelf = self.requiresGrad ? make(b, self.shape) : null;
      const dOther = other.requiresGrad ? make(b, other.shape, true) : null;
      const dBias = bias.requiresGrad ? make(b, bias.shape) : null;
      if (b.edgeCombineBackward && (dSelf || dOther || dBias)) {
        b.edgeCombineBackward({
          ...{ dz: g.storage, offsets: offsets.storage, neighbors: neighbors.storage },
          ...{ atoms, edges, cols, dSelf: dSelf?.storage ?? null },
          ...{ dOther: dOther?.storage ?? null, dBias: dBias?.storage ?? null },
        });
      } else {
        if (dSelf) b.segmentReduce(g.storage, offsets.storage, dSelf.storage, atoms, cols, false);
        if (dOther) b.scatterAddRows(g.storage, neighbors.storage, dOther.storage, edges, cols);
        if (dBias) b.sumRows(g.storage, dBias.storage, edges, cols);
      }
      if (dSelf) out.push([self, dSelf]);
      if (dOther) out.push([other, dOther]);
      if (x?.requiresGrad) {
        const k = x.cols, dx = make(b, x.shape);
        b.gemm({
          ...{ transA: false, transB: false, m: edges, n: k, k: cols, alpha: 1, beta: 0 },
          ...{ a: g.storage, lda: cols, b: weight.storage, bOffset: inputOffset },
          ...{ ldb: weight.cols, c: dx.storage, ldc: k },
        });
        out.push([x, dx]);
      }
      if (weight.requiresGrad) {
        const prev = pending(weight);
        const dw = prev ?? make(b, weight.shape, true); // only the column block is written
        if (source) {
          // dW_u = dzᵀ u with the Gaussians formed from the distances again, not stored.
          edgeSourceWeightGrad(
            ...[source, g.storage, cols, dw.storage, weight.cols, inputOffset] as const,
            ...[!!prev, b] as const,
          );
        } else {
          const k = x!.cols;
          b.gemm({
            ...{ transA: true, transB: false, m: cols, n: k, k: edges, alpha: 1 },
            ...{ beta: prev ? 1 : 0, a: g.storage, lda: cols, b: x!.storage, ldb: k },
            ...{ c: dw.storage, cOffset: inputOffset, ldc: weight.cols },
          });
        }
        if (!prev) out.push([weight, dw]);
      }
      if (dBias) out.push([bias, dBias]);
      return out;
    }
    case "gateSum": {
      const { z, gamma, beta, mean, variance, eps, batchStatistics, offsets } = op;
      if (!b.gateSumBackward) throw new Error(`gateSum: no fused backward on ${b.name}`);
      const dz = make(b, z.shape), dGamma = make(b, gamma.shape), dBeta = make(b, beta.shape);
      b.gateSumBackward({
        ...{ z: z.storage, offsets: offsets.storage, atoms: node.rows, edges: z.rows },
        ...{ cols: node.cols, mean: mean.storage, variance: variance.storage },
        ...{ gamma: gamma.storage, beta: beta.storage, eps, dOut: g.storage, dz: dz.storage },
        ...{ dGamma: dGamma.storage, dBeta: dBeta.storage, batchStatistics },
      });
      return [[z, dz], [gamma, dGamma], [beta, dBeta]];
    }
    case "mseLoss": {
      // d/dp mean((p − t)²) = 2 (p − t) / n, times the incoming scalar.
      const { pred, target } = op;
      const dp = make(b, pred.shape);
      b.binary("sub", pred.storage, target.storage, dp.storage, pred.size, 1, "none");
      b.binary("mul", dp.storage, g.storage, dp.storage, pred.size, 1, "scalar");
      b.affine(dp.storage, dp.storage, 2 / pred.size, 0, pred.size);
      return [[pred, dp]];
    }
  }
}

// `Tensor.backward()` runs this (the tensor layer does not import autograd).
setBackward(backward);
