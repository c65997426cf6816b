/** Destinations of backup sets: a local/NFS folder, a remote folder via rsync over ssh, or S3. */
import type { DestinationConfig } from './config';
import { LocalDestination } from './local';
import { RsyncDestination } from './rsync';
import { S3Destination } from './s3';
import type { Destination } from './types';

export * from './config';
export * from './paths';
export { readAll, readCapped, tooLarge } from './read';
export * from './types';
export * from './conditional';
export { LocalDestination } from './local';
export { RsyncDestination, type RsyncOptions, rsyncOptions, sshOptions, shQuote } from './rsync';
export { S3Destination, s3Credentials } from './s3';
export { retryStreamedPut, producedAndPut, type StreamedPutRetry } from './streamed';

/** Builds the destination a validated config describes (no I/O; call checkWritable() to test it). */
export function openDestination(config: DestinationConfig): Destination {
  switch (config.type) {
    case 'local':
      return new LocalDestination(config);
    case 'rsync':
      return new RsyncDestination(config);
    case 's3':
      return new S3Destination(config);
  }
}
