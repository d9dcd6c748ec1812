export { AssertionError, assert, assertNever } from "./assert.js";
export { chainChecksum } from "./checksum.js";
export type { RaftConfig, RaftSettings } from "./config.js";
export { defaultRaftSettings, raftConfig, validateRaftConfig } from "./config.js";
export type { ReadonlyRaftLog } from "./log.js";
export { RaftLog } from "./log.js";
export type { ReadonlyMembershipLog } from "./membership.js";
export { decodeConfigEntry, encodeConfigEntry, MembershipLog } from "./membership.js";
export type {
  CampaignKind,
  ElectionCounts,
  ElectionReason,
  RaftStatus,
  ReadMode,
} from "./node.js";
export { RaftNode } from "./node.js";
export type { ProgressView } from "./progress.js";
export { Inflights, Progress } from "./progress.js";
export type { VoteResult } from "./quorum.js";
export { allMembers, committedIndex, isJoint, isVoter, voteResult } from "./quorum.js";
export type { RandomSource } from "./rand.js";
export { SeededRandom } from "./rand.js";
export type {
  ConfigChange,
  ConfigEntryData,
  Entry,
  GroupId,
  HardState,
  MembershipConfig,
  Message,
  MessageType,
  NodeId,
  ProposeRefusal,
  ProposeResult,
  ReadState,
  Ready,
  RestoredState,
  Role,
  SnapshotChunk,
  SnapshotMeta,
  SoftState,
} from "./types.js";
export { EntryType } from "./types.js";
