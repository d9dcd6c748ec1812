import type { Consistency } from "../../stages/protocol.js";

/** How one request retries, where it differs from the client's options. */
export interface RetryPolicy {
  /** The longest wait between two attempts. */
  readonly backoffCapMs?: number;
  /** How long one attempt waits for its answer (the client's requestTimeoutMs otherwise). */
  readonly attemptTimeoutMs?: number;
}

/** What the lease API needs of the client: one request, retried as the client retries. */
export interface Requester {
  request(frame: Record<string, unknown>, retry?: RetryPolicy): Promise<Record<string, unknown>>;
}

export interface LeaseTimeToLive {
  /** Seconds left (-1: the lease is gone). */
  readonly ttl: number;
  readonly grantedTtl: number;
  /** The keys attached, when asked for. */
  readonly keys?: readonly string[];
}

/** The lease ops of CONTRACT §5, one call each. */
export class LeaseApi {
  constructor(private readonly client: Requester) {}

  /** A new lease of `ttl` seconds; its id is a decimal string. */
  async grant(ttl: number): Promise<{ lease: string; ttl: number }> {
    return (await this.client.request({ op: "lease-grant", ttl })) as {
      lease: string;
      ttl: number;
    };
  }

  /** Restart the lease's ttl; resolves with the seconds it now has (NOT_FOUND: it is gone). */
  async keepAlive(lease: string, retry?: RetryPolicy): Promise<{ ttl: number }> {
    return (await this.client.request({ op: "lease-keepalive", lease }, retry)) as {
      ttl: number;
    };
  }

  /** Revoke the lease and delete its keys (NOT_FOUND: it is gone already). */
  async revoke(lease: string): Promise<{ revoked: boolean; revision: number }> {
    return (await this.client.request({ op: "lease-revoke", lease })) as {
      revoked: boolean;
      revision: number;
    };
  }

  async timeToLive(
    lease: string,
    options: { keys?: boolean; consistency?: Consistency } = {},
  ): Promise<LeaseTimeToLive> {
    return (await this.client.request({
      op: "lease-ttl",
      lease,
      ...options,
    })) as unknown as LeaseTimeToLive;
  }

  async list(options: { consistency?: Consistency } = {}): Promise<string[]> {
    return ((await this.client.request({ op: "lease-list", ...options })) as { leases: string[] })
      .leases;
  }
}

export interface LeaseHandleOptions {
  /** Keep-alive period; default ttl/3. */
  readonly keepAliveEveryMs?: number;
}

/**
 * A granted lease that keeps itself alive (a keep-alive every ttl/3) until revoke() or
 * close(). If the cluster answers that the lease is gone (NOT_FOUND: it expired, or someone
 * revoked it), keep-alives stop and `lost` resolves; other failures are retried at the next
 * period. The timer does not hold the process open.
 */
export class Lease {
  /** Resolves with why, once the lease is known to be gone or this handle stopped. */
  readonly lost: Promise<string>;
  private timer: NodeJS.Timeout | null = null;
  private markLost: (reason: string) => void = () => {};
  private keepingAlive = false;

  private constructor(
    private readonly api: LeaseApi,
    readonly id: string,
    readonly ttl: number,
    private readonly everyMs: number,
  ) {
    this.lost = new Promise((resolve) => {
      this.markLost = resolve;
    });
    this.timer = setInterval(() => void this.keepAliveOnce(), everyMs);
    this.timer.unref();
  }

  static async grant(api: LeaseApi, ttl: number, options: LeaseHandleOptions = {}): Promise<Lease> {
    const { lease } = await api.grant(ttl);
    return new Lease(api, lease, ttl, options.keepAliveEveryMs ?? Math.max(1, (ttl * 1000) / 3));
  }

  get alive(): boolean {
    return this.timer !== null;
  }

  /** One keep-alive now (the timer calls it; a test may too). */
  async keepAliveOnce(): Promise<void> {
    if (this.keepingAlive || this.timer === null) return;
    this.keepingAlive = true;
    try {
      // Retried at least four times a period, and no attempt waits longer than a period (a
      // hung node is left at its timeout): after an election the new leader gives a lease a
      // keep-alive period and an election timeout (docs/leases.md); a long wait could sleep
      // through it.
      await this.api.keepAlive(this.id, {
        backoffCapMs: this.everyMs / 4,
        attemptTimeoutMs: this.everyMs,
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "NOT_FOUND") this.stop(`lease ${this.id} expired or was revoked`);
      // CONNECTION after close(): the client is gone, so is any use of the lease.
      else if (code === "CONNECTION" && /closed/.test(String(error))) this.stop("client closed");
    } finally {
      this.keepingAlive = false;
    }
  }

  /** Revoke: the lease's keys are deleted. A lease already gone is not an error here. */
  async revoke(): Promise<void> {
    this.stop("revoked");
    try {
      await this.api.revoke(this.id);
    } catch (error) {
      if ((error as { code?: string }).code !== "NOT_FOUND") throw error;
    }
  }

  /** Stop keeping alive without revoking: the lease expires after its ttl. */
  close(): void {
    this.stop("closed");
  }

  private stop(reason: string): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.markLost(reason);
  }
}
