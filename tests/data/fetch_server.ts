/**
 * The loopback HTTP server the fetch-data tests download from (never the internet): serves
 * `files` by path, honours (or ignores) Range requests, and can cut the next response short.
 */

export interface ServerState {
  files: Map<string, Uint8Array<ArrayBuffer>>;
  /** Honour Range requests (206) or ignore them (200). */
  ranges: boolean;
  /** Send only this many bytes of the next response body, then break the connection. */
  cutNextAt: number | null;
  requests: { path: string; range: string | null }[];
}

export function startServer(state: ServerState) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => {
      const path = new URL(req.url).pathname;
      const range = req.headers.get("range");
      state.requests.push({ path, range });
      const body = state.files.get(path);
      if (body === undefined) return new Response("not found", { status: 404 });
      let start = 0;
      let status = 200;
      const headers = new Headers({ "content-type": "text/csv" });
      if (state.ranges) headers.set("accept-ranges", "bytes");
      if (range !== null && state.ranges) {
        const m = /^bytes=(\d+)-$/.exec(range);
        start = m ? Number(m[1]) : 0;
        if (start >= body.length) {
          return new Response(null, {
            status: 416,
            headers: { "content-range": `bytes */${body.length}` },
          });
        }
        status = 206;
        headers.set("content-range", `bytes ${start}-${body.length - 1}/${body.length}`);
      }
      const slice = body.subarray(start);
      headers.set("content-length", String(slice.length));
      const cut = state.cutNextAt;
      state.cutNextAt = null;
      if (cut === null) return new Response(slice, { status, headers });
      // Send part of the body, then fail the stream: the connection is cut mid-body.
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(slice.subarray(0, cut));
          controller.close();
        },
      });
      return new Response(stream, { status, headers });
    },
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  return { server, base };
}

export async function withServer(
  fn: (ctx: { base: string; state: ServerState; dir: string }) => Promise<void>,
  init: Partial<ServerState> = {},
) {
  const state: ServerState = {
    files: new Map(),
    ranges: true,
    cutNextAt: null,
    requests: [],
    ...init,
  };
  const { server, base } = startServer(state);
  const dir = await Deno.makeTempDir({ prefix: "fetch_test_" });
  try {
    await fn({ base, state, dir });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}
