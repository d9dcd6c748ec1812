/**
 * The messages between a WorkerPool and serveWorker(). Both sides are ours, so the shapes are
 * asserted rather than parsed. The request id matches a response to its call: a worker answers
 * concurrent async calls in the order they finish, not the order they came.
 */
export interface CallRequest {
  readonly id: number;
  readonly payload: unknown;
}

export interface RemoteError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

export type CallResponse =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: RemoteError };
