/**
 * Reads the module specifiers a TypeScript file imports: static `import … from`, side-effect
 * `import "…"`, `export … from`, and dynamic `import("…")` (also `typeof import("…")` in
 * types). Comments are blanked first, so `@example` blocks in JSDoc do not count.
 * @module
 */

/** One import found in a file. */
export interface ImportSite {
  /** The specifier as written: `"../tensor/tensor.ts"`, `"npm:h5wasm@0.10.3"`. */
  specifier: string;
  /** 1-based line of the specifier. */
  line: number;
  /** `static` (import/export … from, side-effect import) or `dynamic` (`import(…)`). */
  kind: "static" | "dynamic";
}

/** Characters after which a `/` starts a regular expression, not a division. */
const REGEX_PRECEDERS = new Set("(,=:[!&|?{};+-*%<>~^".split(""));
const REGEX_KEYWORDS = /(?:^|[^\w$])(?:return|typeof|case|do|else|in|of|void|yield|await)$/;

/**
 * `source` with every comment replaced by spaces (newlines kept, so offsets and line numbers
 * stay). Strings, template literals and regular expression literals are skipped over whole, so
 * a `//` inside them is not taken for a comment. With `strings`, the insides of string and
 * template literals are blanked too (their quotes stay), so text in a message is not taken for
 * code.
 */
export function blankComments(source: string, strings = false): string {
  const out = source.split("");
  const n = source.length;
  let i = 0;
  let lastCode = ""; // the last non-space code character, to tell a regex from a division
  let lastCodeStart = 0;
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  while (i < n) {
    const c = source[i];
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      const stop = end < 0 ? n : end;
      blank(i, stop);
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end < 0 ? n : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === '"' || c === "'" || c === "`") {
      const end = skipString(source, i);
      if (strings) blank(i + 1, end - 1);
      i = end;
      lastCode = c;
    } else if (
      c === "/" &&
      (lastCode === "" || REGEX_PRECEDERS.has(lastCode) ||
        REGEX_KEYWORDS.test(source.slice(lastCodeStart - 8, lastCodeStart + 1)))
    ) {
      i = skipRegex(source, i);
      lastCode = "/";
    } else {
      if (!/\s/.test(c)) {
        lastCode = c;
        lastCodeStart = i;
      }
      i++;
    }
  }
  return out.join("");
}

function skipString(source: string, start: number): number {
  const quote = source[start];
  let i = start + 1;
  while (i < source.length) {
    const c = source[i];
    if (c === "\\") i += 2;
    else if (c === quote) return i + 1;
    else if (quote === "`" && c === "$" && source[i + 1] === "{") i = skipBraces(source, i + 2);
    else if (quote !== "`" && c === "\n") return i; // unterminated: stop at the line end
    else i++;
  }
  return i;
}

/** Skips a `${ … }` template expression (nested braces and strings) and returns past `}`. */
function skipBraces(source: string, start: number): number {
  let depth = 1;
  let i = start;
  while (i < source.length && depth > 0) {
    const c = source[i];
    if (c === '"' || c === "'" || c === "`") {
      i = skipString(source, i);
      continue;
    }
    if (c === "{") depth++;
    else if (c === "}") depth--;
    i++;
  }
  return i;
}

function skipRegex(source: string, start: number): number {
  let i = start + 1;
  let inClass = false;
  while (i < source.length) {
    const c = source[i];
    if (c === "\\") i += 2;
    else if (c === "\n") return i;
    else if (c === "[") (inClass = true, i++);
    else if (c === "]") (inClass = false, i++);
    else if (c === "/" && !inClass) return i + 1;
    else i++;
  }
  return i;
}

const STATIC_FROM = /(?<![.\w$])(?:import|export)\b[^;"'`]*?\bfrom\s*(["'])/g;
const SIDE_EFFECT = /(?<![.\w$])import\s*(["'])/g;
const DYNAMIC = /(?<![.\w$])import\s*\(\s*(["'`]?)/g;

/** The literal starting at `quote` (an index of `source`), or null when it is not one. */
function literalAt(source: string, quote: number): string | null {
  const q = source[quote];
  if (q !== '"' && q !== "'" && q !== "`") return null;
  const end = source.indexOf(q, quote + 1);
  if (end < 0) return null;
  const text = source.slice(quote + 1, end);
  return text.includes("\n") || text.includes("\\") || (q === "`" && text.includes("${"))
    ? null
    : text;
}

/**
 * Every import of `source`. Throws on a dynamic `import()` whose argument is not a string
 * literal: its target cannot be checked, so the layer test must not silently pass it.
 */
export function parseImports(source: string, file = "<source>"): ImportSite[] {
  const code = blankComments(source, true);
  const lineOf = (offset: number) => code.slice(0, offset).split("\n").length;
  const found = new Map<number, ImportSite>();
  const add = (quote: number, kind: ImportSite["kind"]) => {
    const specifier = literalAt(source, quote);
    if (specifier === null) {
      throw new Error(
        `${file}:${lineOf(quote)}: import of a computed specifier; ` +
          "the layer test cannot check it (use a plain string literal)",
      );
    }
    found.set(quote, { specifier, line: lineOf(quote), kind });
  };
  for (const m of code.matchAll(STATIC_FROM)) add(m.index + m[0].length - 1, "static");
  for (const m of code.matchAll(SIDE_EFFECT)) add(m.index + m[0].length - 1, "static");
  for (const m of code.matchAll(DYNAMIC)) {
    if (m[1] === "") {
      throw new Error(
        `${file}:${lineOf(m.index)}: dynamic import() of a computed specifier; ` +
          "the layer test cannot check it (use a string literal)",
      );
    }
    add(m.index + m[0].length - 1, "dynamic");
  }
  return [...found.entries()].sort((a, b) => a[0] - b[0]).map(([, site]) => site);
}
