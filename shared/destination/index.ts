/** Destinations of backup sets: a local/NFS folder, a remote folder via rsync over ssh, or S3. */
import type { DestinationConfig } from './config';
import { LocalDestination } from './local';
import { RsyncDestination } from './rsync';
import { S3Destination, type S3Access } from './s3';
import type { Destination } from './types';

export * from './config';
export * from './paths';
export { readAll, readCapped, tooLarge } from './read';
export * from './types';
export * from './conditional';
export { LocalDestination } from './local';
export { RsyncDestination, type RsyncOptions, rsyncOptions, sshOptions, shQuote } from './rsync';
export { S3Destination, s3Credentials, FLEET_CREDENTIALS_HINT, type S3Access, type S3Keys } from './s3';
export { retryStreamedPut, producedAndPut, type StreamedPutRetry } from './streamed';

/** Opens a destination from its validated config; an agent's own supplies its own S3 keys. */
export type DestinationOpener = (config: DestinationConfig) => Destination;

/**
 * Builds the destination a validated config describes (no I/O; call checkWritable() to test it).
 * S3 keys come from `s3` when given, else from the config (the fleet file's keys or variables).
 */
export function openDestination(config: DestinationConfig, s3?: S3Access): Destination {
  switch (config.type) {
    case 'local':
      return new LocalDestination(config);
    case 'rsync':
      return new RsyncDestination(config);
    case 's3':
      return new S3Destination(config, s3);
  }
}
