/**
 * node dist/ops/bench/echo-server.js <host:port>
 *
 * The bare transport the bench compares stageraft with: a uWebSockets.js server that answers
 * each JSON frame with a small JSON reply carrying the request's id, and nothing else (no
 * Raft, no WAL, no state). `GET /health` answers 200 once it listens.
 */
import uWS from "uWebSockets.js";

const [host, portText] = (process.argv[2] ?? "").split(":");
const port = Number(portText);
if (host === undefined || host === "" || !Number.isInteger(port) || port < 1) {
  process.stderr.write("usage: echo-server <host:port>\n");
  process.exit(2);
}

const decoder = new TextDecoder();
uWS
  .App()
  .ws("/*", {
    maxPayloadLength: 1 << 20,
    message: (ws, message) => {
      let id: unknown = null;
      try {
        id = (JSON.parse(decoder.decode(message)) as { id?: unknown }).id ?? null;
      } catch {
        // a frame that is not JSON is answered with id null, as the bench never sends one
      }
      ws.send(JSON.stringify({ id, ok: true }), false);
    },
  })
  .get("/health", (res) => {
    res.writeHeader("content-type", "application/json").end('{"ready":true}');
  })
  .listen(host, port, (token) => {
    if (token === false) {
      process.stderr.write(`echo-server: cannot listen on ${host}:${port}\n`);
      process.exit(1);
    }
  });
