import type uWS from "uWebSockets.js";
import type { Logger } from "pino";
import {
  type ClientTokens,
  clientAccess,
  holdsToken,
  type IngressHttp,
  requestToken,
} from "../../stages/ingress/mod.js";
import { type LatestSnapshot, serveSnapshot } from "./snapshot-download.js";

export interface HttpRoutesOptions extends ClientTokens {
  /** /metrics, /dashboard, its assets and its feed need the client or admin token. */
  readonly protectHttp: boolean;
}

export interface HttpRoutesPorts {
  readonly health: () => Record<string, unknown>;
  /** CONTRACT §7: /readyz answers 200 when ready, else 503 with the reason. */
  readonly readiness: () => { ready: boolean; reason: string };
  readonly metrics: () => Promise<string>;
  /** The page; `token` (from ?token=) is passed on to its asset URLs. */
  readonly dashboard: (token: string | null) => string;
  /** The JSON-able picture pushed to /dashboard/live subscribers once a second. */
  readonly dashboardSnapshot: () => Promise<unknown>;
  /** The charts' last minutes and their events (GET /dashboard/history), kept server-side. */
  readonly dashboardHistory: () => unknown;
  /** Adds one point to that history; called once a second whether or not anyone watches. */
  readonly dashboardSample: () => void;
  /** A static file of the dashboard (/dashboard/assets/<name>), read at start. */
  readonly dashboardAsset: (name: string) => { contentType: string; body: Buffer } | undefined;
  /** GET /snapshot (admin token) serves it: `stageraft snapshot save`. */
  readonly latestSnapshot?: LatestSnapshot;
}

/** Per-socket data of a /dashboard/live subscriber. */
type DashboardSocket = uWS.WebSocket<Record<string, never>>;

/** A dashboard socket this far behind gets no new pictures until it drains. */
const dashboardBackpressureBytes = 1 << 20;

/**
 * What a tokenless caller of /health gets under protectHttp: the contract's status fields a
 * probe needs; per-stage metrics, peer addresses and members are for token holders.
 */
const probeFields = ["name", "role", "term", "leader", "commitIndex", "appliedIndex"] as const;

const ok = "200 OK";
const unavailable = "503 Service Unavailable";

/**
 * A HEAD answer: the status line and headers, no body and no Content-Length (a body after a
 * HEAD answer breaks an HTTP client's parser on that connection: "Expected HTTP/").
 */
function answerHead(res: uWS.HttpResponse, status: string): void {
  res.writeStatus(status).writeHeader("content-type", "application/json").endWithoutBody();
}

const unauthorizedText = {
  header: "a valid token is required (Authorization: Bearer <token>)\n",
  query: "a valid token is required (Authorization: Bearer <token> or ?token=)\n",
};

/**
 * The client port's HTTP side, next to the WebSocket /v1 of ingress: the probes (/livez,
 * /readyz, /health; GET and HEAD), GET /metrics, /dashboard with its static assets and its
 * history (/dashboard/history, sampled here once a second), and the dashboard's live feed
 * (one picture a second to every subscriber, none built while nobody watches). Built by src/node.ts and handed to
 * ingress, which registers it on its app.
 */
export class HttpRoutes implements IngressHttp {
  private readonly dashboardSockets = new Set<DashboardSocket>();
  private dashboardTimer: NodeJS.Timeout | null = null;
  private dashboardPushing = false;

  constructor(
    private readonly options: HttpRoutesOptions,
    private readonly ports: HttpRoutesPorts,
    private readonly log: Logger,
  ) {}

  /** Requests refused for a missing or wrong token (ingress's stats), set by `register`. */
  private counters: { unauthorized: number } = { unauthorized: 0 };

  /** Add the routes to `app` and start the dashboard's push timer. */
  register(app: uWS.TemplatedApp, counters: { unauthorized: number }): void {
    this.counters = counters;
    // The probes (CONTRACT §7), open under protectHttp; HEAD answers the status, no body.
    app.get("/health", (res, req) => this.health(res, req, false));
    app.head("/health", (res, req) => this.health(res, req, true));
    app.get("/livez", (res) => this.livez(res, false));
    app.head("/livez", (res) => this.livez(res, true));
    app.get("/readyz", (res) => this.readyz(res, false));
    app.head("/readyz", (res) => this.readyz(res, true));
    app.get("/metrics", (res, req) => this.metrics(res, req));
    const latest = this.ports.latestSnapshot;
    if (latest)
      app.get("/snapshot", (res, req) => serveSnapshot(res, req, this.options, latest, this.log));
    app.get("/dashboard", (res, req) => {
      if (!this.httpAllowed(res, req, true)) return;
      const token = this.options.protectHttp ? req.getQuery("token") || null : null;
      res.writeHeader("content-type", "text/html; charset=utf-8").end(this.ports.dashboard(token));
    });
    app.get("/dashboard/history", (res, req) => {
      if (!this.httpAllowed(res, req, true)) return;
      res
        .writeHeader("content-type", "application/json")
        .writeHeader("cache-control", "no-store")
        .end(JSON.stringify(this.ports.dashboardHistory()));
    });
    app.get("/dashboard/assets/:file", (res, req) => this.asset(res, req));
    this.registerLive(app);
    this.dashboardTimer = setInterval(() => this.tick(), 1_000);
    this.dashboardTimer.unref();
  }

  stop(): void {
    if (this.dashboardTimer) clearInterval(this.dashboardTimer);
    this.dashboardTimer = null;
    for (const ws of [...this.dashboardSockets]) ws.end(1001, "the node is shutting down");
    this.dashboardSockets.clear();
  }

  /**
   * Open for probes; under protectHttp a caller without a token gets the probe fields only.
   * 200 when the node is ready, 503 when not (the body says why: `ready`, `reason`).
   */
  private health(res: uWS.HttpResponse, req: uWS.HttpRequest, head: boolean): void {
    if (head) {
      answerHead(res, this.ports.readiness().ready ? ok : unavailable);
      return;
    }
    const health = this.ports.health();
    const status = health.ready === false ? unavailable : ok;
    const full = !this.options.protectHttp || holdsToken(requestToken(req, false), this.options);
    const body = full
      ? health
      : Object.fromEntries(probeFields.map((field) => [field, health[field] ?? null]));
    res
      .writeStatus(status)
      .writeHeader("content-type", "application/json")
      .end(JSON.stringify(body));
  }

  /** 200 while the process serves HTTP at all. */
  private livez(res: uWS.HttpResponse, head: boolean): void {
    if (head) answerHead(res, ok);
    else res.writeHeader("content-type", "application/json").end('{"live": true}');
  }

  /** 200 `{"ready": true}`, or 503 `{"ready": false, "reason": "..."}`. */
  private readyz(res: uWS.HttpResponse, head: boolean): void {
    const { ready, reason } = this.ports.readiness();
    const status = ready ? ok : unavailable;
    if (head) {
      answerHead(res, status);
      return;
    }
    res
      .writeStatus(status)
      .writeHeader("content-type", "application/json")
      .end(JSON.stringify(ready ? { ready } : { ready, reason }));
  }

  private metrics(res: uWS.HttpResponse, req: uWS.HttpRequest): void {
    if (!this.httpAllowed(res, req, false)) return;
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    void this.ports.metrics().then((text) => {
      if (aborted) return;
      res.cork(() => res.writeHeader("content-type", "text/plain; version=0.0.4").end(text));
    });
  }

  private asset(res: uWS.HttpResponse, req: uWS.HttpRequest): void {
    if (!this.httpAllowed(res, req, true)) return;
    const asset = this.ports.dashboardAsset(req.getParameter(0) ?? "");
    if (asset === undefined) {
      res.writeStatus("404 Not Found").end("no such dashboard asset\n");
      return;
    }
    res
      .writeHeader("content-type", asset.contentType)
      .writeHeader(
        "cache-control",
        this.options.protectHttp ? "private, max-age=3600" : "public, max-age=3600",
      )
      .end(asset.body);
  }

  /** The dashboard's live feed: the same token rule as /v1; one picture a second per socket. */
  private registerLive(app: uWS.TemplatedApp): void {
    app.ws<Record<string, never>>("/dashboard/live", {
      maxPayloadLength: 4 * 1024,
      maxBackpressure: 4 * dashboardBackpressureBytes,
      closeOnBackpressureLimit: 1,
      idleTimeout: 120,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        if (clientAccess(requestToken(req, true), this.options) === null) {
          this.counters.unauthorized++;
          res.writeStatus("401 Unauthorized").end(unauthorizedText.query);
          return;
        }
        // It carries what /metrics does: protectHttp guards it even where /v1 is open.
        if (!this.httpAllowed(res, req, true)) return;
        res.upgrade(
          {},
          req.getHeader("sec-websocket-key"),
          req.getHeader("sec-websocket-protocol"),
          req.getHeader("sec-websocket-extensions"),
          context,
        );
      },
      open: (ws) => {
        this.dashboardSockets.add(ws);
        this.pushDashboard();
      },
      message: () => {},
      close: (ws) => {
        this.dashboardSockets.delete(ws);
      },
    });
  }

  /**
   * auth.protectHttp: /metrics and the dashboard's page and assets need the client or admin
   * token (config validation ensures one is set). Refused: answers 401 and returns false.
   */
  private httpAllowed(res: uWS.HttpResponse, req: uWS.HttpRequest, query: boolean): boolean {
    if (!this.options.protectHttp) return true;
    if (holdsToken(requestToken(req, query), this.options)) return true;
    this.counters.unauthorized++;
    res
      .writeStatus("401 Unauthorized")
      .writeHeader("www-authenticate", 'Bearer realm="stageraft"')
      .end(query ? unauthorizedText.query : unauthorizedText.header);
    return false;
  }

  /** Once a second: a point of the history, then a picture for whoever watches. */
  private tick(): void {
    try {
      this.ports.dashboardSample();
    } catch (error) {
      this.log.warn({ err: error }, "dashboard history sample failed");
    }
    this.pushDashboard();
  }

  /** One picture for every dashboard watching; none is built while nobody watches. */
  private pushDashboard(): void {
    if (this.dashboardSockets.size === 0 || this.dashboardPushing) return;
    this.dashboardPushing = true;
    void this.ports
      .dashboardSnapshot()
      .then((snapshot) => {
        const text = JSON.stringify(snapshot);
        // Sockets closed meanwhile have left the set: only open ones are written to.
        for (const ws of this.dashboardSockets) {
          if (ws.getBufferedAmount() < dashboardBackpressureBytes) ws.send(text, false);
        }
      })
      .catch((error: unknown) => this.log.warn({ err: error }, "dashboard snapshot failed"))
      .finally(() => {
        this.dashboardPushing = false;
      });
  }
}
