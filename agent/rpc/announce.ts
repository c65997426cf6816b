/**
 * Commit's call is announced ready as soon as the agent has let it in: its response headers go
 * out before its request has arrived. The coordinator opens every agent's Commit first and sends
 * the requests only once each is announced (coordinator/backup/commit-round.ts), so that the
 * Commits go out in one burst and reach every agent together, each with its TLS, HTTP/2 and
 * certificate check already done. Installed after the certificate check: a refused call is
 * never announced.
 */
import * as grpc from '@grpc/grpc-js';
import { AgentService } from '../../shared/generated/tandem/v2/agent';

/** A server interceptor that sends Commit's response headers once the call's own headers are accepted. */
export function announceCommit(): grpc.ServerInterceptor {
  return (method, call) => {
    if (method.path !== AgentService.commit.path) return new grpc.ServerInterceptingCall(call);
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            mdNext(metadata);
            call.sendMetadata(new grpc.Metadata());
          },
        });
      },
    });
  };
}
