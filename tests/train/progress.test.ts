import assert from "node:assert/strict";
import { formatDuration, Progress, type ProgressWriter } from "../../lib/train/progress.ts";

function fake(isTerminal: boolean, columns?: number) {
  const out: string[] = [];
  const writer: ProgressWriter = { isTerminal, columns, write: (t) => void out.push(t) };
  let ms = 0;
  return { out, writer, now: () => ms, advance: (s: number) => void (ms += s * 1000) };
}

Deno.test("terminal mode redraws one line with batch, loss, throughput and ETA", () => {
  const f = fake(true);
  const p = new Progress({ writer: f.writer, now: f.now, redrawMs: 100 });
  assert.equal(p.mode, "tty");
  p.startEpoch(1, 2, 4);
  f.advance(1);
  p.update(1, 0.5, 100); // 1 s per batch, 100 crystals/s; 3 + 4 batches left → ETA 0:07
  assert.equal(f.out.length, 1);
  assert.ok(f.out[0].startsWith("\r\x1b[2K"), "redraws in place");
  assert.ok(!f.out[0].includes("\n"));
  assert.match(f.out[0], /epoch 1\/2/);
  assert.match(f.out[0], /\[#####\.{15}\]/);
  assert.match(f.out[0], /batch 1\/4/);
  assert.match(f.out[0], /loss 0\.5000/);
  assert.match(f.out[0], /100 crystals\/s/);
  assert.match(f.out[0], /ETA 0:07/);
  f.advance(0.01);
  p.update(2, 0.4, 100); // within redrawMs: throttled
  assert.equal(f.out.length, 1);
  f.advance(0.99);
  p.update(3, 0.3, 100);
  p.update(4, 0.2, 100); // the last batch always draws
  assert.equal(f.out.length, 3);
  p.endEpoch({ "train loss": 0.25, "val MAE": 0.0512 });
  const end = f.out.at(-1)!;
  assert.ok(end.startsWith("\r\x1b[2K") && end.endsWith("\n"));
  assert.ok(
    end.includes("epoch 1/2  train loss 0.2500  val MAE 0.05120  2.0 s  200 crystals/s"),
    end,
  );
  p.log("note");
  assert.equal(f.out.at(-1), "note\n", "no clear needed after a closed line");
});

Deno.test("terminal lines are cut to the console width", () => {
  const f = fake(true, 30);
  const p = new Progress({ writer: f.writer, now: f.now });
  p.startEpoch(1, 1, 10);
  f.advance(1);
  p.update(1, 1.25, 64);
  assert.equal(f.out[0].length, "\r\x1b[2K".length + 29);
  p.finish();
  assert.equal(f.out.at(-1), "\n");
});

Deno.test("piped mode prints plain lines at most every interval, and every epoch end", () => {
  const f = fake(false);
  const p = new Progress({ writer: f.writer, now: f.now, intervalSeconds: 5 });
  assert.equal(p.mode, "plain");
  p.startEpoch(1, 1, 100);
  for (let b = 1; b <= 12; b++) {
    f.advance(1);
    p.update(b, 1 / b, 10);
  }
  // 12 s of batches, one line per 5 s → at 5 s and 10 s.
  assert.equal(f.out.length, 2);
  for (const line of f.out) {
    assert.ok(line.endsWith("\n") && !line.includes("\r") && !line.includes("\x1b"));
    assert.ok(!line.includes("["), "no bar when piped");
  }
  assert.match(f.out[0], /batch 5\/100/);
  assert.match(f.out[1], /batch 10\/100/);
  p.endEpoch({ "train loss": 0.1 });
  assert.equal(f.out.length, 3);
  assert.equal(f.out[2], "epoch 1/1  train loss 0.1000  12.0 s  10 crystals/s\n");
  p.finish();
  assert.equal(f.out.length, 3, "finish prints nothing when no line is open");
});

Deno.test("silent mode prints nothing", () => {
  const f = fake(true);
  const p = new Progress({ writer: f.writer, now: f.now, mode: "silent" });
  p.startEpoch(1, 1, 1);
  p.update(1, 0.1, 1);
  p.endEpoch({ x: 1 });
  p.log("hi");
  p.finish();
  assert.deepEqual(f.out, []);
});

Deno.test("formatDuration", () => {
  assert.equal(formatDuration(7), "0:07");
  assert.equal(formatDuration(125), "2:05");
  assert.equal(formatDuration(3723), "1:02:03");
  assert.equal(formatDuration(NaN), "--:--");
});
