/**
 * The tensor layer does not import autograd: `Tensor.backward()` runs the implementation that
 * `lib/autograd/backward.ts` installs when imported. Without it, a clear error names the module.
 */
import assert from "node:assert/strict";

const ops = new URL("../../lib/tensor/ops.ts", import.meta.url).href;
const cpu = new URL("../../lib/backend/cpu/cpu_backend.ts", import.meta.url).href;
const autograd = new URL("../../lib/autograd/backward.ts", import.meta.url).href;

/** Runs a fresh Deno process (module graph without autograd unless imported) and its output. */
async function run(code: string): Promise<{ code: number; out: string }> {
  const { code: exit, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", code],
    env: { FACGCNN_CPU_KERNELS: "off", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: exit, out: dec.decode(stdout) + dec.decode(stderr) };
}

const LOSS = `
const be = createCpuBackend();
const p = T.parameter(be, new Float32Array([1, 2, 3]), [3]);
T.sum(T.mul(p, p)).backward();
console.log(Array.from(p.grad.toFloat32Array()).join(","));
`;

Deno.test("Tensor.backward() without autograd imported: a clear error naming the module", async () => {
  const r = await run(
    `import * as T from "${ops}"; import { createCpuBackend } from "${cpu}";${LOSS}`,
  );
  assert.notEqual(r.code, 0);
  assert.match(
    r.out,
    /Tensor\.backward\(\): no autograd loaded; import lib\/autograd\/backward\.ts/,
  );
});

Deno.test("Tensor.backward() once lib/autograd/backward.ts is imported", async () => {
  const r = await run(
    `import "${autograd}"; import * as T from "${ops}"; import { createCpuBackend } from "${cpu}";${LOSS}`,
  );
  assert.equal(r.code, 0, r.out);
  assert.equal(r.out.trim(), "2,4,6");
});
