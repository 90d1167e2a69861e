/**
 * The shared library loader: override first, usual places, one error listing what was tried,
 * one dlopen per library per process, companions opened first from the same folder.
 */
import assert from "node:assert/strict";
import {
  candidatePaths,
  LibraryNotFoundError,
  type LibrarySpec,
  openedCompanions,
  openedLibraryCount,
  openLibrary,
} from "../../lib/util/library.ts";
import { fn } from "../../lib/backend/ffi.ts";

const SYMBOLS = { fake_answer: fn("") } as const;

/** Builds `lib<name>.so` exporting `int fake_answer(void) { return answer; }` (null without cc). */
function buildFake(dir: string, file: string, answer: number): string | null {
  const c = `${dir}/${file}.c`;
  Deno.writeTextFileSync(c, `int fake_answer(void) { return ${answer}; }\n`);
  try {
    const out = new Deno.Command("cc", {
      args: ["-shared", "-fPIC", "-o", `${dir}/${file}`, c],
      stderr: "piped",
    }).outputSync();
    return out.success ? `${dir}/${file}` : null;
  } catch {
    return null;
  }
}

const hasCc = (() => {
  try {
    return new Deno.Command("cc", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "library: folders in order, then refusals go on to the next candidate; one dlopen each",
  ignore: !hasCc,
  fn() {
    const a = Deno.makeTempDirSync(), b = Deno.makeTempDirSync();
    try {
      buildFake(a, "libfake.so.2", 2);
      buildFake(b, "libfake.so.2", 22);
      buildFake(b, "libfake.so.1", 1);
      const spec: LibrarySpec = {
        name: "libfake",
        override: "cudart",
        sonames: ["libfake.so.2", "libfake.so.1"],
        folders: () => [a, "/nonexistent-folder", b],
        bareNames: false,
      };
      const old = Deno.env.get("FACGCNN_CUDART");
      Deno.env.delete("FACGCNN_CUDART");
      try {
        assert.deepEqual([...candidatePaths(spec)], [
          `${a}/libfake.so.2`,
          `${b}/libfake.so.2`,
          `${b}/libfake.so.1`,
        ]);
        // Accept only answer 1: the two .so.2 are refused with the reason, .so.1 is taken.
        const accept = ({ lib }: { lib: { symbols: { fake_answer: () => number } } }) =>
          lib.symbols.fake_answer() === 1 ? null : `answers ${lib.symbols.fake_answer()}`;
        const before = openedLibraryCount();
        const got = openLibrary(spec, SYMBOLS, accept);
        assert.equal(got.path, `${b}/libfake.so.1`);
        assert.equal(openedLibraryCount(), before + 3);
        // Again: the same object, no new dlopen.
        assert.equal(openLibrary(spec, SYMBOLS, accept), got);
        assert.equal(openedLibraryCount(), before + 3);
        // Nothing acceptable: the error lists every attempt and the missing folder.
        const err = (() => {
          try {
            openLibrary(spec, SYMBOLS, () => "refused");
          } catch (e) {
            return e;
          }
        })();
        assert.ok(err instanceof LibraryNotFoundError);
        assert.deepEqual(err.tried.slice(0, 3), [
          `${a}/libfake.so.2 (refused)`,
          `${b}/libfake.so.2 (refused)`,
          `${b}/libfake.so.1 (refused)`,
        ]);
        assert.match(err.tried[3], /folders that do not exist: \/nonexistent-folder/);
        assert.match(err.message, /set FACGCNN_CUDART to its path/);
      } finally {
        if (old !== undefined) Deno.env.set("FACGCNN_CUDART", old);
      }
    } finally {
      Deno.removeSync(a, { recursive: true });
      Deno.removeSync(b, { recursive: true });
    }
  },
});

Deno.test({
  name: "library: companions are opened first from the candidate's folder",
  ignore: !hasCc,
  fn() {
    const dir = Deno.makeTempDirSync();
    try {
      buildFake(dir, "libfakeLt.so.7", 0);
      buildFake(dir, "libfakemain.so.7", 7);
      const spec: LibrarySpec = {
        name: "libfakemain",
        override: "cublas",
        path: `${dir}/libfakemain.so.7`,
        sonames: ["libfakemain.so.7"],
        folders: () => [],
        companions: (p) => p.endsWith(".so.7") ? ["libfakeLt.so.7", "libmissing.so.7"] : [],
      };
      const got = openLibrary(spec, SYMBOLS);
      assert.equal(got.lib.symbols.fake_answer(), 7);
      assert.ok(openedCompanions().includes(`${dir}/libfakeLt.so.7`));
      assert.ok(!openedCompanions().some((p) => p.includes("libmissing")));
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
