/**
 * Structured logs: one JSON object per line (pino) for the agent, which systemd's journal
 * keeps; the CLI prints readable text instead. Secrets are redacted by key name.
 */
import pino from 'pino';

/** The logger type used across tandem. */
export type Logger = pino.Logger;

/** A JSON-lines logger writing to stdout; level from TANDEM_LOG_LEVEL (default info). */
export function createLogger(name: string, fields: Record<string, unknown> = {}): Logger {
  return pino({
    name,
    level: process.env.TANDEM_LOG_LEVEL ?? 'info',
    base: { pid: process.pid, ...fields },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['*.password', '*.secretAccessKey', '*.key', 'password', 'secretAccessKey'], censor: '[redacted]' },
  });
}

/** A logger that drops everything, for unit tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
