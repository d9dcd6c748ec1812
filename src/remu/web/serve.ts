import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Recording } from "../recorder.js";
import { renderRemuPage } from "./page.js";

/**
 * Write the web view of a recorded run into `dir`: index.html (self-contained, the recording
 * embedded) and run.json (the same recording, for tools). Returns the paths written.
 */
export function writeRemuPage(
  dir: string,
  recording: Recording,
): { readonly html: string; readonly json: string } {
  mkdirSync(dir, { recursive: true });
  const html = join(dir, "index.html");
  const json = join(dir, "run.json");
  writeFileSync(html, renderRemuPage(recording));
  writeFileSync(json, JSON.stringify(recording));
  return { html, json };
}

export interface RemuWebServer {
  readonly server: Server;
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serve the web view on 127.0.0.1: "/" is the page, "/run.json" the recording. Port 0 picks a
 * free port; the URL says which.
 */
export async function serveRemuPage(
  recording: Recording,
  port = 0,
  host = "127.0.0.1",
): Promise<RemuWebServer> {
  const page = Buffer.from(renderRemuPage(recording));
  const json = Buffer.from(JSON.stringify(recording));
  const server = createServer((request, response) => {
    const path = (request.url ?? "/").split(/[?#]/)[0];
    const send = (status: number, type: string, body: Buffer | string) => {
      response.writeHead(status, {
        "content-type": type,
        "cache-control": "no-store",
        "content-length": Buffer.byteLength(body),
      });
      response.end(request.method === "HEAD" ? undefined : body);
    };
    if (request.method !== "GET" && request.method !== "HEAD") {
      send(405, "text/plain; charset=utf-8", "method not allowed\n");
    } else if (path === "/" || path === "/index.html") {
      send(200, "text/html; charset=utf-8", page);
    } else if (path === "/run.json") {
      send(200, "application/json", json);
    } else {
      send(404, "text/plain; charset=utf-8", "not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    port: address.port,
    url: `http://${host}:${address.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
