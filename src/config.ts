import { readFileSync } from "node:fs";
import { z } from "zod";

/**
 * The node's configuration: flags (etcd-style) and a JSON config file set the same keys; flags
 * win. Unknown keys and bad values stop the node at start with a message naming the key.
 * Every default is documented in docs/configuration.md.
 */

const address = z
  .string()
  .regex(/^[^:\s]+:\d{1,5}$/, "must be host:port")
  .refine((value) => Number(value.split(":").pop()) <= 65_535, "port must be <= 65535");

const stageBounds = (queueItems: number, batchItems: number) => ({
  queueItems: z.number().int().min(1).max(10_000_000).default(queueItems),
  batchItems: z.number().int().min(1).max(1_000_000).default(batchItems),
});

const stage = (queueItems: number, batchItems: number) =>
  z.object(stageBounds(queueItems, batchItems)).strict().default({});

/** A stage whose work can leave the event loop: `pool` "inline", or "workers" (a thread). */
const pooledStage = (queueItems: number, batchItems: number) =>
  z
    .object({
      ...stageBounds(queueItems, batchItems),
      pool: z.enum(["inline", "workers"]).default("inline"),
    })
    .strict()
    .default({});

export const configSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, '_', '.', '-' only"),
    dataDir: z.string().min(1),
    listenClient: address,
    listenPeer: address,
    /** etcd's v3 gRPC API (CONTRACT §7, docs/etcd-compat.md); unset: not served. */
    listenEtcd: address.optional(),
    /** name=host:port,… — every member's peer address. */
    initialCluster: z.string().min(1),
    initialClusterState: z.enum(["new", "existing"]).default("new"),
    engines: z
      .object({
        kv: z.enum(["level", "memory"]).default("level"),
        /** The index a vector collection gets when vcreate names none. */
        vector: z.enum(["hnsw", "flat"]).default("hnsw"),
        hnsw: z
          .object({
            m: z.number().int().min(2).max(256).default(16),
            efConstruction: z.number().int().min(2).max(10_000).default(200),
            efSearch: z.number().int().min(1).max(10_000).default(64),
          })
          .strict()
          .default({}),
        /** Per collection name: the engine and HNSW parameters its vcreate gets by default. */
        collections: z
          .record(
            z
              .string()
              .regex(
                /^[A-Za-z0-9_.-]{1,128}$/,
                "collection names are 1–128 letters, digits, _ . -",
              ),
            z
              .object({
                engine: z.enum(["hnsw", "flat"]).optional(),
                m: z.number().int().min(2).max(256).optional(),
                efConstruction: z.number().int().min(2).max(10_000).optional(),
                efSearch: z.number().int().min(1).max(10_000).optional(),
              })
              .strict(),
          )
          .default({}),
      })
      .strict()
      .default({}),
    raft: z
      .object({
        tickMs: z.number().int().min(1).max(10_000).default(100),
        electionTicks: z.number().int().min(2).max(10_000).default(10),
        heartbeatTicks: z.number().int().min(1).max(10_000).default(1),
        preVote: z.boolean().default(true),
        checkQuorum: z.boolean().default(true),
        maxAppendBytes: z
          .number()
          .int()
          .min(1024)
          .default(1 << 20),
        maxInflight: z.number().int().min(1).max(65_536).default(256),
        maxUncommittedBytes: z
          .number()
          .int()
          .min(1024)
          .default(64 << 20),
        /** The leader lease (lease reads) after a quorum's echo; see raft/config.ts leaseTicks. */
        leaseTicks: z.number().int().min(1).default(2),
        leaseDriftTicks: z.number().int().min(0).default(2),
        snapshotEvery: z.number().int().min(0).default(10_000),
        snapshotRetainEntries: z.number().int().min(0).default(1_000),
        snapshotChunkBytes: z
          .number()
          .int()
          .min(1024)
          .default(1 << 20),
      })
      .strict()
      .default({}),
    stages: z
      .object({
        /** pool "workers": the Raft core in a worker thread (the group pinned to it). */
        raftStep: pooledStage(16_384, 1_024),
        walAppend: stage(1_024, 256),
        replicate: stage(8_192, 1_024),
        /** pool "workers": the state machine (engines, indexes, sessions) in a worker thread. */
        apply: pooledStage(8_192, 1_024),
        respond: stage(65_536, 4_096),
      })
      .strict()
      .default({}),
    limits: z
      .object({
        maxKeyBytes: z
          .number()
          .int()
          .min(1)
          .max(1 << 20)
          .default(4_096),
        maxValueBytes: z
          .number()
          .int()
          .min(1)
          .max(64 << 20)
          .default(1 << 20),
        maxScanLimit: z.number().int().min(1).default(10_000),
        maxInflightPerConnection: z.number().int().min(1).default(4_096),
        /** Reply bytes owed to one connection before its requests get OVERLOADED (uWS closes
         * a socket at 16 MiB of backpressure: the bound stays below that). */
        maxReplyBytesPerConnection: z
          .number()
          .int()
          .min(64 * 1024)
          .max(16 << 20)
          .default(8 << 20),
        requestTimeoutMs: z.number().int().min(10).default(5_000),
        /** The p90 response time admission steers to (docs/operations.md); 0: no latency limit. */
        admissionLatencyMs: z.number().int().min(0).default(250),
        /** Requests in flight that the latency limit never refuses. */
        admissionMinInflight: z.number().int().min(1).default(1_024),
        maxPeerFrameBytes: z
          .number()
          .int()
          .min(64 * 1024)
          .default(256 << 20),
      })
      .strict()
      .default({}),
    sessions: z
      .object({
        ttlMs: z.number().int().min(1_000).default(3_600_000),
        window: z.number().int().min(1).max(65_536).default(256),
        maxSessions: z.number().int().min(1).default(100_000),
        expireEvery: z.number().int().min(1).default(1_024),
      })
      .strict()
      .default({}),
    /** Watches (stages/apply/watch-hub.ts): an idle watch's progress frame interval. */
    watch: z
      .object({ progressIntervalMs: z.number().int().min(10).max(3_600_000).default(5_000) })
      .strict()
      .default({}),
    /**
     * The kept history of changes (reads at a past revision, watch catch-up), bounded as
     * entries apply — a function of the log, so replicas should share these. 0: no bound.
     */
    history: z
      .object({
        keepRevisions: z.number().int().min(0).default(100_000),
        keepBytes: z
          .number()
          .int()
          .min(0)
          .default(64 << 20),
      })
      .strict()
      .default({}),
    /** Followers forward writes to the leader; off: they answer NOT_LEADER. */
    forwarding: z.boolean().default(true),
    wal: z
      .object({
        sync: z.boolean().default(true),
        /** Segment files (storage/segment-wal.ts) or the LevelDB WAL (storage/wal.ts). */
        engine: z.enum(["segments", "level"]).default("segments"),
      })
      .strict()
      .default({}),
    auth: z
      .object({
        clientToken: z.string().min(1).optional(),
        adminToken: z.string().min(1).optional(),
        // It travels in the peer hello, which peers accept only up to 4 KiB.
        peerToken: z
          .string()
          .min(1)
          .refine((t) => Buffer.byteLength(JSON.stringify(t)) <= 1026, "at most 1 KiB as JSON")
          .optional(),
        /** /metrics and /dashboard need the client or admin token too (the probes stay open). */
        protectHttp: z.boolean().default(false),
      })
      .strict()
      .default({}),
    log: z
      .object({
        level: z
          .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
          .default("info"),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.raft.electionTicks <= config.raft.heartbeatTicks) {
      ctx.addIssue({
        code: "custom",
        path: ["raft", "electionTicks"],
        message: "must be greater than raft.heartbeatTicks",
      });
    }
    if (config.raft.leaseDriftTicks >= config.raft.electionTicks) {
      ctx.addIssue({
        code: "custom",
        path: ["raft", "leaseDriftTicks"],
        message: "must be less than raft.electionTicks",
      });
    }
    if (config.raft.leaseTicks + config.raft.leaseDriftTicks > config.raft.electionTicks) {
      ctx.addIssue({
        code: "custom",
        path: ["raft", "leaseTicks"],
        message: "raft.leaseTicks + raft.leaseDriftTicks must not exceed raft.electionTicks",
      });
    }
    if (config.limits.maxPeerFrameBytes < 2 * config.limits.maxValueBytes + 64 * 1024) {
      ctx.addIssue({
        code: "custom",
        path: ["limits", "maxPeerFrameBytes"],
        message: "must hold at least two max-size values",
      });
    }
    if (config.auth.protectHttp && !config.auth.clientToken && !config.auth.adminToken) {
      ctx.addIssue({
        code: "custom",
        path: ["auth", "protectHttp"],
        message: "needs auth.clientToken or auth.adminToken (the token HTTP requests must carry)",
      });
    }
    try {
      const members = parseInitialCluster(config.initialCluster);
      if (!members.has(config.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["initialCluster"],
          message: `does not name this node (${config.name})`,
        });
      }
    } catch (error) {
      ctx.addIssue({ code: "custom", path: ["initialCluster"], message: (error as Error).message });
    }
  });

export type NodeConfig = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** name=host:port,… → Map(name → host:port). */
export function parseInitialCluster(text: string): Map<string, string> {
  const members = new Map<string, string>();
  for (const part of text.split(",")) {
    const match = /^([A-Za-z0-9_.-]+)=([^:\s]+:\d{1,5})$/.exec(part.trim());
    if (!match) throw new Error(`"${part}" is not name=host:port`);
    if (members.has(match[1]!)) throw new Error(`${match[1]} is listed twice`);
    members.set(match[1]!, match[2]!);
  }
  return members;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const key = issue.path.join(".") || "(root)";
      if (issue.code === "unrecognized_keys")
        return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${[...issue.path, k].join(".")}"`).join(", ")}`;
      return `${key}: ${issue.message}`;
    })
    .join("; ");
}

/** Merge a config file (if any) with flags, validate, and return the config or throw ConfigError. */
export function loadConfig(flags: Record<string, unknown>, configPath?: string): NodeConfig {
  let fromFile: Record<string, unknown> = {};
  if (configPath !== undefined) {
    let text: string;
    try {
      text = readFileSync(configPath, "utf8");
    } catch (error) {
      throw new ConfigError(`cannot read config file ${configPath}: ${(error as Error).message}`);
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(
        `config file ${configPath} is not valid JSON: ${(error as Error).message}`,
      );
    }
    if (typeof fromFile !== "object" || fromFile === null || Array.isArray(fromFile)) {
      throw new ConfigError(`config file ${configPath} must hold a JSON object`);
    }
  }
  const defined = Object.fromEntries(
    Object.entries(flags).filter(([, value]) => value !== undefined),
  );
  const parsed = configSchema.safeParse({ ...fromFile, ...defined });
  if (!parsed.success)
    throw new ConfigError(`invalid configuration: ${describeIssues(parsed.error)}`);
  return parsed.data;
}
