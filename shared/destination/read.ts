/** Reading small files (manifests, listings, schemas) whole from a destination. */
import type { Destination } from './types';

/** The whole content of a stored file; NotFoundError when it does not exist. Meant for small files. */
export async function readAll(destination: Destination, relPath: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await destination.get(relPath)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
