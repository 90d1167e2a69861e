/**
 * The Jupyter display protocol of the Deno kernel: it shows a cell's value through its
 * `[Symbol.for("Jupyter.display")]()` method (a MIME bundle, possibly async); anywhere else
 * the method is never called, so attaching one is harmless. This module imports nothing: the
 * layers below never depend on display, and `attach.ts` decorates what `mod.ts` exports.
 * Nothing here reads `Deno.jupyter` (it throws outside the kernel).
 * @module
 */

/**
 * The well-known symbol the Deno Jupyter kernel looks up: `Symbol.for("Jupyter.display")`.
 *
 * @example
 * ```ts
 * import { JUPYTER_DISPLAY } from "@facgcnn/toolkit";
 * const hello = { [JUPYTER_DISPLAY]: () => ({ "text/html": "<b>hello</b>" }) };
 * hello; // the last expression of a Deno notebook cell shows bold "hello"
 * ```
 */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display") as never;

/**
 * A Jupyter MIME bundle: MIME type → data (`"text/plain"`, `"text/html"`, Plotly JSON, …).
 */
export type MimeBundle = Record<string, unknown>;

/**
 * Anything the Deno kernel can display richly.
 *
 * @example
 * ```ts
 * import { type Displayable, JUPYTER_DISPLAY, type MimeBundle } from "@facgcnn/toolkit";
 * class Note implements Displayable {
 *   constructor(readonly text: string) {}
 *   [JUPYTER_DISPLAY](): MimeBundle {
 *     return { "text/markdown": `**${this.text}**`, "text/plain": this.text };
 *   }
 * }
 * new Note("shown in bold in a Deno notebook");
 * ```
 */
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
