/**
 * Loads a YAML file and validates it with a zod schema, so every configuration error names
 * the file, the key and the problem.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors';

/** Formats zod issues as `file: key.path: message` lines. */
export function formatIssues(file: string, issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => `${file}: ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`)
    .join('\n');
}

/** Validates an already parsed value; throws ConfigError listing every problem. */
export function validateConfig<S extends z.ZodType>(file: string, schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ConfigError(`invalid configuration:\n${formatIssues(file, result.error.issues)}`, { file });
  return Object.freeze(result.data) as z.output<S>;
}

/** Reads, parses and validates a YAML configuration file. */
export function loadYamlConfig<S extends z.ZodType>(file: string, schema: S): z.output<S> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read configuration ${file}: ${(err as Error).message}`, { file });
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) throw new ConfigError(`${file}: YAML syntax error: ${doc.errors[0].message}`, { file });
  return validateConfig(file, schema, doc.toJS());
}
