/**
 * Commit's call is announced as soon as its request has arrived: its response headers go out
 * before the call's end, on which gRPC runs the handler. The coordinator opens every agent's
 * Commit with its request first and ends them all only once each is announced
 * (coordinator/backup/commit-round.ts), so that what it sends at the commit instant is one empty
 * frame per agent, with TLS, HTTP/2, the certificate check and the request's decoding already
 * done on both sides. Installed after the certificate check: a refused call is never announced.
 */
import * as grpc from '@grpc/grpc-js';
import { AgentService } from '../../shared/generated/tandem/v2/agent';

/**
 * A server interceptor that sends Commit's response headers once its request has been received.
 * `onLost`, when given, hears of a Commit call that ended without its end (its caller gone): the
 * prepared state then waits for a Commit, an Abort or its lease.
 */
export function announceCommit(onLost?: () => void): grpc.ServerInterceptor {
  return (method, call) => {
    if (method.path !== AgentService.commit.path) return new grpc.ServerInterceptingCall(call);
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMessage: (message, messageNext) => {
            messageNext(message);
            call.sendMetadata(new grpc.Metadata());
          },
          // Node's HTTP/2 ends a stream's request side whenever the stream closes, so a lost
          // connection (a coordinator killed while it held the call) reads as the caller's end,
          // and gRPC would run Commit. The end is passed on a turn later, once the close that
          // came with it has cancelled the call: gRPC drops a cancelled call's end. (A caller's
          // cancel sends an end before its reset: that one cannot be told from a real end, and
          // the coordinator cancels a held call only after the Abort.)
          onReceiveHalfClose: (halfCloseNext) => void setImmediate(halfCloseNext),
          onCancel: () => onLost?.(),
        });
      },
    });
  };
}
