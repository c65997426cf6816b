/**
 * The one promise wrapper around the generated grpc-js client: every call has a deadline,
 * and an AbortSignal cancels it. Nothing calls the callback-style client directly.
 */
import * as grpc from '@grpc/grpc-js';
import { TandemError } from '../errors';

/** Options of one RPC. */
export interface CallOptions {
  /** Deadline in milliseconds from now; required, so nothing can block forever. */
  deadlineMs: number;
  /** Aborting cancels the call. */
  signal?: AbortSignal;
}

/** An RPC that failed, with the gRPC status and the agent it was sent to. */
export class RpcError extends TandemError {
  constructor(
    readonly agent: string,
    readonly method: string,
    readonly code: grpc.status,
    details: string,
  ) {
    super(`${agent}: ${method} failed: ${grpc.status[code] ?? code}: ${details}`, { node: agent, step: method, code });
  }
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

/** Calls a unary method of a generated client and resolves with its response. */
export function unary<Req, Res>(
  agent: string,
  client: grpc.Client,
  method: string,
  request: Req,
  options: CallOptions,
): Promise<Res> {
  const fn = (client as unknown as Record<string, UnaryMethod<Req, Res>>)[method];
  if (typeof fn !== 'function') throw new TypeError(`no RPC method ${method}`);
  return new Promise<Res>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new RpcError(agent, method, grpc.status.CANCELLED, 'cancelled before start'));
      return;
    }
    const deadline = new Date(Date.now() + options.deadlineMs);
    const call = fn.call(client, request, new grpc.Metadata(), { deadline }, (err, res) => {
      options.signal?.removeEventListener('abort', cancel);
      if (err) reject(new RpcError(agent, method, err.code, err.details || err.message));
      else resolve(res);
    });
    const cancel = () => call.cancel();
    options.signal?.addEventListener('abort', cancel, { once: true });
  });
}

/** Reads a server stream, calling onMessage for each message, until it ends, fails or times out. */
export function serverStream<Req, Res>(
  agent: string,
  client: grpc.Client,
  method: string,
  request: Req,
  options: CallOptions,
  onMessage: (message: Res) => void,
): Promise<void> {
  const fn = (client as unknown as Record<string, (r: Req, m: grpc.Metadata, o: Partial<grpc.CallOptions>) => grpc.ClientReadableStream<Res>>)[method];
  if (typeof fn !== 'function') throw new TypeError(`no RPC method ${method}`);
  return new Promise<void>((resolve, reject) => {
    const deadline = new Date(Date.now() + options.deadlineMs);
    const call = fn.call(client, request, new grpc.Metadata(), { deadline });
    const cancel = () => call.cancel();
    options.signal?.addEventListener('abort', cancel, { once: true });
    call.on('data', (m: Res) => {
      try {
        onMessage(m);
      } catch (err) {
        call.cancel();
        reject(err);
      }
    });
    call.on('error', (err: grpc.ServiceError) => {
      options.signal?.removeEventListener('abort', cancel);
      reject(new RpcError(agent, method, err.code, err.details || err.message));
    });
    call.on('end', () => {
      options.signal?.removeEventListener('abort', cancel);
      resolve();
    });
  });
}

/** What openUnary needs of a generated method definition. */
export interface UnaryDefinition<Req, Res> {
  path: string;
  requestSerialize(request: Req): Buffer;
  responseDeserialize(bytes: Buffer): Res;
}

/** A unary call opened with its request, whose end (which makes the server run its handler) waits for halfClose(). */
export interface OpenedUnary<Res> {
  /** Resolves once the server has announced that it holds the request (its response headers), false when the call ended first. */
  readonly ready: Promise<boolean>;
  /** Ends the caller's side: one empty frame, on whose arrival the server's handler runs. Once only. */
  halfClose(): void;
  /** The response, or an RpcError (the call refused, its deadline past, or cancelled). */
  readonly response: Promise<Res>;
  /**
   * Cancels the call. Node's HTTP/2 sends a stream's end before its reset, so the server may
   * still run its handler: cancel only once the server would refuse the request.
   */
  cancel(): void;
}

/**
 * Opens a unary call and sends its request, but not the call's end: a gRPC server runs a unary
 * handler only once the caller's side is closed. Everything slow (the stream, headers, TLS, the
 * server's certificate check, encoding and decoding the request) is done before halfClose(),
 * which is then one small frame. On the wire it is a unary call; the deadline runs from now.
 */
export function openUnary<Req, Res>(agent: string, client: grpc.Client, method: UnaryDefinition<Req, Res>, request: Req, options: CallOptions): OpenedUnary<Res> {
  const name = method.path.slice(method.path.lastIndexOf('/') + 1);
  let settled = false;
  let closed = false;
  let announce: (ready: boolean) => void = () => undefined;
  const ready = new Promise<boolean>((r) => (announce = r));
  let call!: grpc.ClientWritableStream<Req>;
  const response = new Promise<Res>((resolve, reject) => {
    call = client.makeClientStreamRequest<Req, Res>(method.path, method.requestSerialize, method.responseDeserialize, new grpc.Metadata(), { deadline: new Date(Date.now() + options.deadlineMs) }, (err, res) => {
      settled = true;
      announce(false);
      if (err) reject(new RpcError(agent, name, err.code, err.details || err.message));
      else resolve(res!);
    });
  });
  call.once('metadata', () => announce(true));
  call.write(request);
  return {
    ready,
    response,
    halfClose() {
      if (closed || settled) return;
      closed = true;
      call.end();
    },
    cancel() {
      if (!settled) call.cancel();
    },
  };
}
