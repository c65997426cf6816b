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

/** A unary call opened ahead of its request: its headers are on their way, its request is encoded and waits for send(). */
export interface OpenedUnary<Res> {
  /** Resolves once the server has announced the call authorized and waiting (its response headers), false when the call ended first. */
  readonly ready: Promise<boolean>;
  /** Sends the request and ends the call's side; the server's handler runs when it arrives. Once only. */
  send(): void;
  /** The response, or an RpcError (the call refused, its deadline past, or cancelled before send). */
  readonly response: Promise<Res>;
  /** Ends a call that will not be sent. */
  cancel(): void;
}

/**
 * Opens a unary call without sending its request: the stream, its headers and the server's
 * authorization are done before send(), so that sending is one small frame. The request is
 * encoded now. The wire format is a unary call's; the deadline runs from the opening.
 */
export function openUnary<Req, Res>(agent: string, client: grpc.Client, method: UnaryDefinition<Req, Res>, request: Req, options: CallOptions): OpenedUnary<Res> {
  const name = method.path.slice(method.path.lastIndexOf('/') + 1);
  const bytes = method.requestSerialize(request);
  let settled = false;
  let sent = false;
  let announce: (ready: boolean) => void = () => undefined;
  const ready = new Promise<boolean>((r) => (announce = r));
  let call!: grpc.ClientWritableStream<Buffer>;
  const response = new Promise<Res>((resolve, reject) => {
    call = client.makeClientStreamRequest<Buffer, Res>(method.path, (b) => b, method.responseDeserialize, new grpc.Metadata(), { deadline: new Date(Date.now() + options.deadlineMs) }, (err, res) => {
      settled = true;
      announce(false);
      if (err) reject(new RpcError(agent, name, err.code, err.details || err.message));
      else resolve(res!);
    });
  });
  call.once('metadata', () => announce(true));
  return {
    ready,
    response,
    send() {
      if (sent || settled) return;
      sent = true;
      call.write(bytes);
      call.end();
    },
    cancel() {
      if (!settled) call.cancel();
    },
  };
}
