/**
 * Headless Chromium as a layout checker for the HTML pages the toolkit writes: the page is
 * loaded with a small script appended that waits for Plotly, measures every figure and writes
 * its findings into the DOM, which `--dump-dom` returns. Problems found: a figure that draws
 * nothing, a figure drawn larger than its box (it then paints over what follows), figures or
 * headings that overlap each other, and legend, titles and annotations inside one figure that
 * overlap each other or stick out of it.
 * @module
 */

/** The first Chromium-like browser on the PATH, or null. */
export function findChromium(): string | null {
  const env = Deno.env.get("FACGCNN_CHROMIUM");
  const names = env ? [env] : ["chromium", "chromium-browser", "google-chrome", "chrome"];
  for (const name of names) {
    if (name.includes("/")) {
      try {
        if (Deno.statSync(name).isFile) return name;
      } catch { /* not there */ }
      continue;
    }
    for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
      try {
        if (dir && Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
      } catch { /* not there */ }
    }
  }
  return null;
}

/** What the in-page check found. */
export interface LayoutReport {
  /** One entry per `.plot` box: its drawn size and how many marks (points, bars, lines) it has. */
  figures: { index: number; box: [number, number]; drawn: [number, number]; marks: number }[];
  /** Problems in words; empty when the page is fine. */
  problems: string[];
  /** Page height in CSS pixels (for the screenshot window). */
  pageHeight: number;
}

const CHECK_SCRIPT = `<script>
(() => {
  const out = (value) => {
    const pre = document.createElement("pre");
    pre.id = "facgcnn-layout-check";
    pre.textContent = JSON.stringify(value);
    document.body.appendChild(pre);
  };
  const rect = (el) => {
    const r = el.getBoundingClientRect();
    return { x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height };
  };
  const overlap = (a, b, tol = 1) =>
    a.w > 0 && b.w > 0 && a.h > 0 && b.h > 0 &&
    a.x < b.x + b.w - tol && b.x < a.x + a.w - tol && a.y < b.y + b.h - tol && b.y < a.y + a.h - tol;
  const inside = (a, b, tol = 2) =>
    a.x >= b.x - tol && a.y >= b.y - tol && a.x + a.w <= b.x + b.w + tol && a.y + a.h <= b.y + b.h + tol;
  const check = () => {
    const problems = [];
    const figures = [];
    const drawnRects = [];
    document.querySelectorAll(".plot").forEach((div, i) => {
      const box = rect(div);
      const svg = div.querySelector(".main-svg");
      if (!svg) { problems.push("figure " + i + ": nothing drawn (no Plotly SVG)"); return; }
      // The whole drawing: Plotly stacks several SVG layers of the same size.
      const drawn = rect(svg);
      drawnRects.push({ i, r: drawn });
      const marks = div.querySelectorAll(
        ".scatterlayer .point, .scatterlayer path.js-line, .barlayer .point path, .barlayer path, .gl-canvas-context",
      ).length;
      figures.push({ index: i, box: [Math.round(box.w), Math.round(box.h)], drawn: [Math.round(drawn.w), Math.round(drawn.h)], marks });
      if (marks === 0) problems.push("figure " + i + ": empty (no points, lines or bars)");
      if (drawn.h > box.h + 1) problems.push("figure " + i + ": drawn " + Math.round(drawn.h) + " px tall in a " + Math.round(box.h) + " px box");
      if (drawn.w > box.w + 1) problems.push("figure " + i + ": drawn " + Math.round(drawn.w) + " px wide in a " + Math.round(box.w) + " px box");
      // Legend, titles and annotations of this figure: no two overlap, none outside the figure.
      const labels = [];
      const legend = div.querySelector(".legend");
      if (legend) labels.push(["legend", legend]);
      for (const t of div.querySelectorAll("text")) {
        const cls = t.getAttribute("class") || "";
        if (/^(gtitle|[xy]\\d*title)$/.test(cls) && t.textContent.trim() !== "") labels.push([cls + " '" + t.textContent + "'", t]);
      }
      for (const a of div.querySelectorAll(".annotation")) labels.push(["annotation '" + a.textContent + "'", a]);
      const rects = labels.map(([n, el]) => [n, rect(el)]);
      for (const [n, r] of rects) {
        if (!inside(r, drawn)) problems.push("figure " + i + ": " + n + " sticks out of the figure");
      }
      for (let a = 0; a < rects.length; a++) {
        for (let b = a + 1; b < rects.length; b++) {
          if (overlap(rects[a][1], rects[b][1])) problems.push("figure " + i + ": " + rects[a][0] + " overlaps " + rects[b][0]);
        }
      }
    });
    for (let a = 0; a < drawnRects.length; a++) {
      for (let b = a + 1; b < drawnRects.length; b++) {
        if (overlap(drawnRects[a].r, drawnRects[b].r)) problems.push("figures " + drawnRects[a].i + " and " + drawnRects[b].i + " overlap");
      }
      for (const h of document.querySelectorAll("h1, h2")) {
        if (overlap(drawnRects[a].r, rect(h))) problems.push("figure " + drawnRects[a].i + " covers the heading '" + h.textContent + "'");
      }
    }
    out({ figures, problems, pageHeight: Math.ceil(document.documentElement.scrollHeight) });
  };
  // Plotly.newPlot draws mostly at once but finishes asynchronously: poll until every box has
  // its SVG (or give up after 10 s of page time), then measure once more after a short pause.
  let waited = 0;
  const poll = () => {
    const boxes = [...document.querySelectorAll(".plot")];
    const ready = boxes.every((d) => d.querySelector(".main-svg") && d._fullLayout);
    if (!ready && waited < 10000) {
      waited += 100;
      setTimeout(poll, 100);
      return;
    }
    setTimeout(() => {
      try {
        check();
      } catch (e) {
        out({ figures: [], problems: ["the layout check failed: " + e], pageHeight: 0 });
      }
    }, 200);
  };
  setTimeout(poll, 0);
})();
</script>`;

async function chromium(exe: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(exe, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--hide-scrollbars",
      "--disable-dev-shm-usage",
      "--no-first-run",
      "--run-all-compositor-stages-before-draw",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${exe} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`);
  }
  return stdout;
}

/**
 * Loads `htmlPath` (with the check appended) at `width` px and returns what the check found;
 * with `screenshot`, also writes a full-page PNG there.
 */
export async function checkPage(
  exe: string,
  htmlPath: string,
  options: { width?: number; screenshot?: string } = {},
): Promise<LayoutReport> {
  const width = options.width ?? 1200;
  const html = await Deno.readTextFile(htmlPath);
  const probe = htmlPath.replace(/\.html$/, "") + ".layout-check.html";
  await Deno.writeTextFile(probe, html.replace(/<\/body>/, `${CHECK_SCRIPT}\n</body>`));
  try {
    const dom = await chromium(exe, [
      `--window-size=${width},1000`,
      "--virtual-time-budget=60000",
      "--dump-dom",
      `file://${probe}`,
    ]);
    const m = /<pre id="facgcnn-layout-check">([\s\S]*?)<\/pre>/.exec(dom);
    if (!m) throw new Error(`${htmlPath}: the layout check did not run (page script error?)`);
    const text = m[1].replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">")
      .replace(/&#39;/g, "'").replace(/&amp;/g, "&");
    const report = JSON.parse(text) as LayoutReport;
    if (options.screenshot) {
      await chromium(exe, [
        `--window-size=${width},${Math.min(report.pageHeight + 20, 16000)}`,
        "--virtual-time-budget=20000",
        `--screenshot=${options.screenshot}`,
        `file://${htmlPath}`,
      ]);
    }
    return report;
  } finally {
    await Deno.remove(probe).catch(() => {});
  }
}
