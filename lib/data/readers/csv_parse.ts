/**
 * An RFC-4180 CSV parser that works incrementally on text chunks, so a 100 MB file is read as
 * a stream and only one record at a time is held. Quoted fields may span many lines and use
 * `""` for a literal quote (CDVAE puts whole CIF files in a quoted `cif` column).
 *
 * Tolerated beyond RFC 4180: LF or lone CR line ends as well as CRLF, a UTF-8 BOM, blank lines
 * (skipped), a quote inside an unquoted field (kept literally). Rejected with a {@link CsvError}:
 * text after a closing quote, and a quote still open at the end of the file.
 * @module
 */

/** A syntax error in a CSV file; `file` and `line` (1-based) say where. */
export class CsvError extends Error {
  /** The CSV file (or a label for in-memory text). */
  readonly file: string;
  /** 1-based line where the problem is. */
  readonly line: number;
  /** An error at `file`:`line` (1-based) saying `what` is wrong. */
  constructor(file: string, line: number, what: string) {
    super(`${file}:${line}: ${what}`);
    this.name = "CsvError";
    this.file = file;
    this.line = line;
  }
}

/** One CSV record: its fields and the 1-based line on which it starts. */
export interface CsvRecord {
  /** The unquoted field values. */
  fields: string[];
  /** 1-based line on which the record starts. */
  line: number;
}

const enum State {
  /** At the start of a field. */
  FieldStart,
  /** Inside an unquoted field. */
  Unquoted,
  /** Inside a quoted field. */
  Quoted,
  /** Just read a quote inside a quoted field: `""` (literal) or the closing quote. */
  QuoteInQuoted,
  /** Just read a CR that ended a record; a following LF belongs to it. */
  AfterCr,
}

/**
 * Incremental CSV parser: feed text with {@link CsvParser.push}, take complete records from
 * the returned array, call {@link CsvParser.finish} at the end of the input.
 */
export class CsvParser {
  #file: string;
  #state = State.FieldStart;
  #fields: string[] = [];
  /** Pieces of the current field (joined once at its end; avoids quadratic concatenation). */
  #parts: string[] = [];
  #line = 1;
  #recordLine = 1;
  #quoteLine = 1;
  #first = true;

  /** A parser for one input; `file` names it in error messages. */
  constructor(file: string) {
    this.#file = file;
  }

  /** Parses `chunk` (any split point is fine) and returns the records it completed. */
  push(chunk: string): CsvRecord[] {
    const out: CsvRecord[] = [];
    let i = 0;
    const n = chunk.length;
    if (this.#first && n > 0) {
      this.#first = false;
      if (chunk.charCodeAt(0) === 0xfeff) i = 1; // UTF-8 BOM
    }
    while (i < n) {
      switch (this.#state) {
        case State.AfterCr: {
          this.#state = State.FieldStart;
          if (chunk.charCodeAt(i) === 10) i++;
          break;
        }
        case State.FieldStart: {
          const c = chunk.charCodeAt(i);
          if (c === 34) { // "
            this.#state = State.Quoted;
            this.#quoteLine = this.#line;
            i++;
          } else {
            this.#state = State.Unquoted;
          }
          break;
        }
        case State.Unquoted: {
          // Scan to the next delimiter or line end in one go.
          let j = i;
          while (j < n) {
            const c = chunk.charCodeAt(j);
            if (c === 44 || c === 10 || c === 13) break;
            j++;
          }
          if (j > i) this.#parts.push(chunk.slice(i, j));
          if (j === n) {
            i = n;
            break;
          }
          const c = chunk.charCodeAt(j);
          this.#endField();
          if (c === 44) {
            this.#state = State.FieldStart;
          } else {
            this.#endRecord(out);
            this.#line++;
            this.#state = c === 13 ? State.AfterCr : State.FieldStart;
          }
          i = j + 1;
          break;
        }
        case State.Quoted: {
          const j = chunk.indexOf('"', i);
          const end = j < 0 ? n : j;
          const piece = chunk.slice(i, end);
          if (piece.length > 0) {
            this.#parts.push(piece);
            this.#line += countLineEnds(piece);
          }
          if (j < 0) {
            i = n;
          } else {
            this.#state = State.QuoteInQuoted;
            i = j + 1;
          }
          break;
        }
        case State.QuoteInQuoted: {
          const c = chunk.charCodeAt(i);
          if (c === 34) {
            this.#parts.push('"');
            this.#state = State.Quoted;
            i++;
          } else if (c === 44) {
            this.#endField();
            this.#state = State.FieldStart;
            i++;
          } else if (c === 10 || c === 13) {
            this.#endField();
            this.#endRecord(out);
            this.#line++;
            this.#state = c === 13 ? State.AfterCr : State.FieldStart;
            i++;
          } else {
            throw new CsvError(
              this.#file,
              this.#line,
              `unexpected character ${JSON.stringify(chunk[i])} after a closing quote ` +
                `(a quoted field must be followed by a comma or a line end)`,
            );
          }
          break;
        }
      }
    }
    return out;
  }

  /** Ends the input: returns the last record (if the file has no final newline). */
  finish(): CsvRecord[] {
    const out: CsvRecord[] = [];
    if (this.#state === State.Quoted) {
      throw new CsvError(
        this.#file,
        this.#quoteLine,
        `unterminated quoted field: the quote opened on line ${this.#quoteLine} ` +
          `is never closed before the end of the file`,
      );
    }
    if (
      this.#state === State.Unquoted || this.#state === State.QuoteInQuoted ||
      this.#fields.length > 0
    ) {
      this.#endField();
      this.#endRecord(out);
    }
    this.#state = State.FieldStart;
    return out;
  }

  #endField(): void {
    const p = this.#parts;
    this.#fields.push(p.length === 0 ? "" : p.length === 1 ? p[0] : p.join(""));
    this.#parts = [];
  }

  #endRecord(out: CsvRecord[]): void {
    const f = this.#fields;
    this.#fields = [];
    const line = this.#recordLine;
    this.#recordLine = this.#line + 1;
    // A blank line is one empty unquoted field: skip it.
    if (f.length === 1 && f[0] === "" && this.#state !== State.QuoteInQuoted) return;
    out.push({ fields: f, line });
  }
}

function countLineEnds(s: string): number {
  let count = 0;
  let k = s.indexOf("\n");
  while (k >= 0) {
    count++;
    k = s.indexOf("\n", k + 1);
  }
  if (count === 0 && s.includes("\r")) {
    // Lone-CR files (old Mac style) inside quoted fields: count CRs instead.
    k = s.indexOf("\r");
    while (k >= 0) {
      count++;
      k = s.indexOf("\r", k + 1);
    }
  }
  return count;
}

/** Parses a whole CSV text into records. Throws {@link CsvError} on a syntax error. */
export function parseCsv(text: string, file = "<csv>"): CsvRecord[] {
  const p = new CsvParser(file);
  const out = p.push(text);
  for (const r of p.finish()) out.push(r);
  return out;
}

/**
 * Streams the records of a CSV file: reads and decodes it in chunks, so memory stays at one
 * chunk plus one record. Throws {@link CsvError} naming the file and line on a syntax error.
 */
export async function* readCsvFile(path: string): AsyncGenerator<CsvRecord> {
  const file = await Deno.open(path, { read: true });
  const parser = new CsvParser(path);
  const decoder = new TextDecoder("utf-8");
  const buf = new Uint8Array(1 << 20);
  try {
    while (true) {
      const n = await file.read(buf);
      if (n === null) break;
      const text = decoder.decode(buf.subarray(0, n), { stream: true });
      for (const r of parser.push(text)) yield r;
    }
    const tail = decoder.decode();
    for (const r of parser.push(tail)) yield r;
    for (const r of parser.finish()) yield r;
  } finally {
    file.close();
  }
}
