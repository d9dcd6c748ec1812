import { isMainThread, parentPort, type TransferListItem } from "node:worker_threads";
import { assert } from "./assert.js";
import type { CallRequest, CallResponse, RemoteError } from "./worker-protocol.js";

/** A handler's result together with the buffers to move (not copy) back to the caller. */
export class WithTransfer<R> {
  constructor(
    readonly value: R,
    readonly transferList: readonly TransferListItem[],
  ) {}
}

export function withTransfer<R>(
  value: R,
  transferList: readonly TransferListItem[],
): WithTransfer<R> {
  return new WithTransfer(value, transferList);
}

export type WorkerHandler<P, R> = (
  payload: P,
) => R | WithTransfer<R> | Promise<R | WithTransfer<R>>;

/**
 * Called once by a worker module: answers every WorkerPool call with handler(payload). A throw
 * in the handler becomes a rejected call (the worker lives on); to crash, exit the thread.
 */
export function serveWorker<P = unknown, R = unknown>(handler: WorkerHandler<P, R>): void {
  assert(!isMainThread && parentPort !== null, "serveWorker: call it inside a worker thread");
  const port = parentPort;
  port.on("message", (request: CallRequest) => {
    assert(Number.isSafeInteger(request.id), "serveWorker: request without an id");
    void answer(request, handler).then(({ response, transferList }) => {
      try {
        port.postMessage(response, transferList);
      } catch (error) {
        // The result could not be cloned: the caller still gets an answer.
        port.postMessage({ id: request.id, ok: false, error: remoteError(error) });
      }
    });
  });
}

async function answer<P, R>(
  request: CallRequest,
  handler: WorkerHandler<P, R>,
): Promise<{ response: CallResponse; transferList: readonly TransferListItem[] }> {
  try {
    const output = await handler(request.payload as P);
    if (output instanceof WithTransfer) {
      return {
        response: { id: request.id, ok: true, result: output.value },
        transferList: output.transferList,
      };
    }
    return { response: { id: request.id, ok: true, result: output }, transferList: [] };
  } catch (error) {
    return { response: { id: request.id, ok: false, error: remoteError(error) }, transferList: [] };
  }
}

function remoteError(error: unknown): RemoteError {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, ...(error.stack && { stack: error.stack }) };
  }
  return { name: "Error", message: String(error) };
}
