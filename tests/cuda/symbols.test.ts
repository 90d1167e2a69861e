/**
 * The helper's C ABI three ways: the header, the TypeScript symbol table and the built
 * library must list the same `fa_*` functions with the same parameters. The build (nvcc, about
 * 40 s) runs once for this file, into a temporary folder; without nvcc those checks are skipped.
 */
import assert from "node:assert/strict";
import { KERNEL_SYMBOLS } from "../../lib/backend/cuda/ffi/kernels.ts";

const root = new URL("../../", import.meta.url).pathname;
const header = Deno.readTextFileSync(`${root}native/include/facgcnn_kernels.h`);

/** `[name, result FFI type, parameter FFI types]` of each `FA_API` declaration in the header. */
function parseHeader(text: string): Map<string, { result: string; params: string[] }> {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  const decls = new Map<string, { result: string; params: string[] }>();
  const re = /FA_API\s+([\w\s]+?)\s+(fa_\w+)\s*\(([^)]*)\)\s*;/g;
  for (const m of code.matchAll(re)) {
    const params = m[3].split(",").map((p) => p.trim()).filter((p) => p !== "" && p !== "void");
    decls.set(m[2], { result: ffiType(m[1]), params: params.map(ffiType) });
  }
  return decls;
}

/** The FFI type a C parameter or return type must have in kernels.ts. */
function ffiType(decl: string): string {
  const d = decl.replace(/\s+/g, " ").trim();
  if (d.includes("*") || d.startsWith("cudaStream_t")) return "pointer";
  if (/^(const )?long long\b/.test(d)) return "i64";
  if (/^(const )?int\b/.test(d)) return "i32";
  if (/^(const )?float\b/.test(d)) return "f32";
  if (/^(const )?double\b/.test(d)) return "f64";
  throw new Error(`unmapped C type in the header: ${decl}`);
}

function findNvcc(): string | null {
  const env = (k: string) => Deno.env.get(k) ?? "";
  const cands = [env("NVCC"), env("CUDA_PATH") && `${env("CUDA_PATH")}/bin/nvcc`];
  cands.push("/usr/local/cuda/bin/nvcc");
  for (const dir of env("PATH").split(":")) if (dir) cands.push(`${dir}/nvcc`);
  for (const c of cands) {
    try {
      if (c && Deno.statSync(c).isFile) return c;
    } catch { /* not there */ }
  }
  return null;
}

const nvcc = findNvcc();
let built: Promise<string> | null = null;
let buildDir: string | null = null;

/** Builds the helper once per run of this file; resolves to the .so path. */
function buildOnce(): Promise<string> {
  built ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "facgcnn_native_" });
    buildDir = dir;
    const out = await new Deno.Command("bash", {
      args: [`${root}native/build.sh`, dir],
      env: { NVCC: nvcc! },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const log = new TextDecoder().decode(out.stderr);
    if (!out.success) throw new Error(`native/build.sh failed:\n${log}`);
    return `${dir}/libfacgcnn_kernels.so`;
  })();
  return built;
}

Deno.test("kernels.ts matches facgcnn_kernels.h: names, parameter counts and types", () => {
  const decls = parseHeader(header);
  assert.ok(decls.size >= 20, `parsed only ${decls.size} declarations`);
  assert.deepEqual([...Object.keys(KERNEL_SYMBOLS)].sort(), [...decls.keys()].sort());
  for (const [name, def] of Object.entries(KERNEL_SYMBOLS)) {
    const d = decls.get(name)!;
    assert.equal(def.parameters.length, d.params.length, `${name}: parameter count`);
    assert.deepEqual([...def.parameters], d.params, `${name}: parameter types`);
    assert.equal(def.result, d.result, `${name}: result type`);
  }
});

Deno.test({
  name: "native build exports exactly the fa_* symbols of kernels.ts",
  ignore: nvcc === null,
  sanitizeResources: false,
  async fn() {
    const so = await buildOnce();
    const nm = await new Deno.Command("nm", { args: ["-D", "--defined-only", so], stdout: "piped" })
      .output();
    assert.ok(nm.success, "nm failed");
    const exported = new TextDecoder().decode(nm.stdout).split("\n")
      .map((l) => l.trim().split(/\s+/)[2])
      .filter((s): s is string => s !== undefined && s.startsWith("fa_"));
    assert.deepEqual(exported.sort(), Object.keys(KERNEL_SYMBOLS).sort());
  },
});

Deno.test({
  name: "native build opens with Deno.dlopen against the table (every symbol resolves)",
  ignore: nvcc === null,
  async fn() {
    const so = await buildOnce();
    // The helper needs libcudart.so.13; it is loaded by its runpath or the linker cache.
    let lib: Deno.DynamicLibrary<typeof KERNEL_SYMBOLS>;
    try {
      lib = Deno.dlopen(so, KERNEL_SYMBOLS);
    } catch (e) {
      // Only a missing runtime may excuse this (no CUDA runtime installed beside nvcc).
      assert.match(String(e), /libcudart/);
      return;
    }
    // Host-only queries run without a GPU: workspace sizes follow the chunking rule.
    const k = lib.symbols;
    assert.equal(k.fa_column_reduce_workspace_floats(1024, 7), 0n);
    assert.equal(k.fa_column_reduce_workspace_floats(1025, 7), 14n);
    assert.equal(k.fa_column_reduce_workspace_floats(2_000_000, 3), (1954n + 2n) * 3n);
    assert.equal(k.fa_sum_all_workspace_floats(1024), 0n);
    assert.equal(k.fa_sum_all_workspace_floats(10_000_000), 1024n);
    lib.close();
  },
});

Deno.test({
  name: "native build: remove the temporary build folder",
  ignore: nvcc === null,
  fn() {
    if (buildDir) Deno.removeSync(buildDir, { recursive: true });
  },
});

if (nvcc === null) {
  console.warn(
    "symbols.test.ts: nvcc not found ($NVCC, $CUDA_PATH/bin, /usr/local/cuda/bin, PATH);" +
      " the native build checks are skipped",
  );
}
