import type { LocalSnapshot } from "../dashboard/observer.js";
import type { Define } from "./define.js";

export function defineRaftMetrics(define: Define): void {
  const raft = (
    name: string,
    help: string,
    value: (s: LocalSnapshot) => number,
    kind: "gauge" | "counter" = "gauge",
  ) => define.plain(kind, name, help, value);
  raft("stageraft_raft_term", "Current Raft term", (s) => s.raft.term);
  raft(
    "stageraft_raft_commit_index",
    "Highest log index known committed",
    (s) => s.raft.commitIndex,
  );
  raft(
    "stageraft_raft_applied_index",
    "Highest log index applied to the engines",
    (s) => s.raft.appliedIndex,
  );
  raft("stageraft_raft_last_index", "Last index in the local log", (s) => s.raft.lastIndex);
  raft(
    "stageraft_raft_first_index",
    "First index still in the local log",
    (s) => s.raft.firstIndex,
  );
  raft("stageraft_raft_is_leader", "1 if this node is the leader", (s) =>
    s.raft.role === "leader" ? 1 : 0,
  );
  raft("stageraft_raft_has_leader", "1 if this node knows a leader", (s) =>
    s.raft.leader === null ? 0 : 1,
  );
  raft(
    "stageraft_raft_followers_lost_entries_total",
    "Times this node, as leader, found a follower holding fewer entries than it had acknowledged (its storage lost them); each is repaired by probing",
    (s) => s.raft.followersLostEntries,
    "counter",
  );
  raft(
    "stageraft_raft_catch_up_index",
    "Nonzero while this node's storage lost durable entries up to this index: it neither votes nor campaigns until it holds them again",
    (s) => s.raft.catchUpIndex,
  );
  raft(
    "stageraft_raft_leader_changes_seen_total",
    "Times this node saw a new leader since it started",
    (s) => s.raft.leaderChanges,
    "counter",
  );
  define.counter(
    "stageraft_raft_elections_started_total",
    "Elections this node started, by reason: timeout (its election timer), leader-unreachable (its leader's process was found gone: link closed, reconnect refused), transfer (a leadership transfer)",
    ["reason"],
    (s, put) => {
      const counts = s.raft.elections;
      put(counts.timeout, { reason: "timeout" });
      put(counts.leaderUnreachable, { reason: "leader-unreachable" });
      put(counts.transfer, { reason: "transfer" });
    },
  );
  raft(
    "stageraft_raft_voters",
    "Voting members in the current configuration",
    (s) => s.raft.voters.length,
  );
  raft(
    "stageraft_raft_learners",
    "Learners in the current configuration",
    (s) => s.raft.learners.length,
  );
  define.gauge(
    "stageraft_raft_follower_match_index",
    "Highest index known replicated on each follower (leader only)",
    ["follower"],
    (s, put) => {
      for (const f of s.raft.followers ?? []) put(f.matchIndex, { follower: f.name });
    },
  );
  define.gauge(
    "stageraft_raft_follower_lag_entries",
    "Entries the leader holds that each follower has not acknowledged (leader only)",
    ["follower"],
    (s, put) => {
      for (const f of s.raft.followers ?? []) put(f.lag, { follower: f.name });
    },
  );
}

/** The WAL's and the apply stage's counters. */
export function defineStorageMetrics(define: Define): void {
  const plain = define.plain;
  plain(
    "counter",
    "stageraft_wal_group_commits_total",
    "WAL group commits (one batch write each)",
    (s) => s.wal.groupCommits,
  );
  plain("counter", "stageraft_wal_writes_total", "Batch writes to the WAL", (s) => s.wal.writes);
  plain("counter", "stageraft_wal_fsyncs_total", "Synced (fsync) WAL writes", (s) => s.wal.syncs);
  plain("counter", "stageraft_wal_readies_total", "Raft Readys made durable", (s) => s.wal.readies);
  plain(
    "counter",
    "stageraft_wal_entries_total",
    "Log entries written to the WAL",
    (s) => s.wal.entries,
  );
  plain(
    "counter",
    "stageraft_apply_entries_total",
    "Committed entries applied",
    (s) => s.apply.applied,
  );
  plain(
    "counter",
    "stageraft_apply_reads_total",
    "Reads answered by the apply stage",
    (s) => s.apply.reads,
  );
  plain(
    "counter",
    "stageraft_apply_reads_refused_total",
    "Reads answered OVERLOADED unserved: their connection had too many replies unread",
    (s) => s.apply.readsRefused,
  );
  plain(
    "counter",
    "stageraft_apply_reads_dropped_total",
    "Reads not served because their connection had closed",
    (s) => s.apply.readsDropped,
  );
  const queue = (name: string, help: string, depth: (s: LocalSnapshot) => number | undefined) =>
    plain("gauge", name, help, (s) => depth(s) ?? 0);
  queue(
    "stageraft_raft_step_read_index_waiting",
    "Reads waiting for the Raft core to confirm their read index (at most 65,536: docs/queues.md)",
    (s) => s.raftStep?.readIndexWaiting,
  );
  queue(
    "stageraft_raft_step_forwards_waiting",
    "Requests forwarded to the leader, waiting for its answer (at most 65,536)",
    (s) => s.raftStep?.forwardsWaiting,
  );
  queue(
    "stageraft_raft_step_readies_in_wal",
    "Raft Readys handed to wal-append and not yet durable",
    (s) => s.raftStep?.readiesInWal,
  );
  queue(
    "stageraft_raft_step_outbox_items",
    "Proposal waiters and Readys waiting in raft-step for room in wal-append or apply",
    (s) => s.raftStep?.outboxItems,
  );
  plain(
    "counter",
    "stageraft_apply_reads_wait_full_total",
    "Reads answered OVERLOADED unserved: as many reads as the bound already waited for the applied index to reach theirs",
    (s) => s.apply.readsWaitFull,
  );
  plain(
    "gauge",
    "stageraft_apply_reads_waiting",
    "Reads waiting for the applied index to reach their read index",
    (s) => s.apply.readsWaiting,
  );
  plain(
    "counter",
    "stageraft_apply_timeouts_total",
    "Requests that timed out waiting to apply",
    (s) => s.apply.timeouts,
  );
  plain(
    "counter",
    "stageraft_snapshots_taken_total",
    "Snapshots this node took",
    (s) => s.apply.snapshots,
  );
}

/** Engine series exist only where the engines are reachable (not in a worker thread). */
export function defineEngineMetrics(define: Define, first: LocalSnapshot): void {
  const plain = define.plain;
  const kv = (s: LocalSnapshot, stat: string) => {
    const value = s.engines?.kv[stat];
    return typeof value === "number" ? value : undefined;
  };
  const has = (stat: string) => kv(first, stat) !== undefined;
  if (has("appliedIndex"))
    plain("gauge", "stageraft_kv_applied_index", "Index the KV engine has applied", (s) =>
      kv(s, "appliedIndex"),
    );
  if (has("keys"))
    plain("gauge", "stageraft_kv_keys", "Keys in the KV engine", (s) => kv(s, "keys"));
  if (has("commandsApplied"))
    plain("counter", "stageraft_kv_commands_applied_total", "Commands the KV engine applied", (s) =>
      kv(s, "commandsApplied"),
    );
  if (first.engines !== null) {
    plain(
      "gauge",
      "stageraft_vector_collections",
      "Vector collections",
      (s) => s.engines?.vectors.collections,
    );
    plain(
      "gauge",
      "stageraft_vector_vectors",
      "Vectors in every collection",
      (s) => s.engines?.vectors.vectors,
    );
  }
}
