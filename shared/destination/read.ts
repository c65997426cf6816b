/** Reading small files (manifests, listings, schemas, markers) whole from a destination, under a cap. */
import type { Readable } from 'node:stream';
import { ValidationError } from '../errors';
import type { Destination } from './types';

/** The refusal of a stored file larger than its cap; names the cap, never the file's size or content. */
export function tooLarge(relPath: string, where: string, maxBytes: number): ValidationError {
  return new ValidationError(`${where}: ${relPath} is larger than the ${maxBytes} bytes allowed for it: refused; the file was changed or planted`, { path: relPath, maxBytes });
}

/**
 * Reads `stream` to its end, but never more than maxBytes: one byte more and the stream is
 * destroyed (the download stops) and the read refused. Memory stays bounded by the cap.
 */
export async function readCapped(stream: Readable, maxBytes: number, relPath: string, where: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  try {
    for await (const c of stream) {
      got += (c as Buffer).length;
      if (got > maxBytes) throw tooLarge(relPath, where, maxBytes);
      chunks.push(c as Buffer);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

/** Checks a cap given by a caller: a whole number of bytes, at least 0. */
export function checkCap(maxBytes: number): number {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new ValidationError(`read cap ${maxBytes} must be a whole number of bytes`);
  return maxBytes;
}

/**
 * The whole content of a stored file; NotFoundError when it does not exist. Unbounded: prefer
 * destination.readSmall(path, maxBytes), which refuses a file larger than the cap.
 */
export async function readAll(destination: Destination, relPath: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await destination.get(relPath)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
