/**
 * FFI signatures written as one short code string per C function, so the symbol tables of
 * OpenBLAS, the native CPU kernels and the CUDA libraries read like their C headers instead of
 * one `"pointer",` per line: `fn("ppii")` is `(void*, void*, int, int) -> int`.
 *
 * Codes: `p` pointer (device address, handle, stream), `b` buffer (a host typed array),
 * `i` i32, `l` i64, `u` usize, `f` f32, `d` f64. The parameter tuple keeps its literal types,
 * so `Deno.dlopen` still types every binding.
 * @module
 */

const CODES = {
  p: "pointer",
  b: "buffer",
  i: "i32",
  l: "i64",
  u: "usize",
  f: "f32",
  d: "f64",
} as const;

/** One-letter codes of FFI parameter types. */
export type FfiCode = keyof typeof CODES;

/** The tuple of FFI types a code string stands for. */
export type FfiParams<S extends string> = S extends `${infer C extends FfiCode}${infer R}`
  ? [(typeof CODES)[C], ...FfiParams<R>]
  : [];

/**
 * A foreign function: parameters from a code string, the result `i32` (a status code) unless
 * given.
 * @throws TypeError on an unknown code letter.
 */
export function fn<const S extends string>(params: S): { parameters: FfiParams<S>; result: "i32" };
/** A foreign function with the given result type. */
export function fn<const S extends string, const R extends Deno.NativeResultType>(
  params: S,
  result: R,
): { parameters: FfiParams<S>; result: R };
export function fn(params: string, result: Deno.NativeResultType = "i32") {
  const parameters = [...params].map((c) => {
    const t = CODES[c as FfiCode];
    if (t === undefined) throw new TypeError(`unknown FFI parameter code "${c}" in "${params}"`);
    return t;
  });
  return { parameters, result };
}
