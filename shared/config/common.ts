/** Schema pieces shared by the agent and fleet configuration files. */
import { isAbsolute, normalize } from 'node:path';
import { z } from 'zod';
import { NODE_NAME } from '../names';

/** An absolute, normalised filesystem path. */
export const absolutePath = z
  .string()
  .refine((p) => isAbsolute(p) && normalize(p) === p && !p.includes('\0'), 'must be an absolute, normalised path');

/** host:port, where host is a name, an IPv4 address or a bracketed IPv6 address. */
export const hostPort = z
  .string()
  .regex(/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):\d{1,5}$/, 'must be host:port');

/** A node name as used in the fleet and in agents' certificates. */
export const nodeName = z.string().regex(NODE_NAME, 'must be a host-name-like node name ([A-Za-z0-9-], dots between labels)');

/** The PEM files of one side of a mutual-TLS connection. */
export const tlsFiles = z.strictObject({
  ca: absolutePath.describe('CA certificate that signs every tandem certificate of the fleet'),
  cert: absolutePath.describe('this side\'s certificate'),
  key: absolutePath.describe('this side\'s private key'),
});

/** A duration in milliseconds, within bounds. */
export const millis = (min: number, max: number) => z.number().int().min(min).max(max);
