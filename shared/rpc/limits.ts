/**
 * Message size limits, the same on both sides. Messages carry ids, counts and small records
 * only (listings and manifests travel as files at the destination), so 1 MiB is far above what
 * any message needs; a bigger one is a bug, refused with RESOURCE_EXHAUSTED instead of being
 * buffered.
 */

/** Largest message either side sends or accepts, bytes. */
export const MAX_MESSAGE_BYTES = 1 << 20;

/** Channel and server options that set the limits. */
export const MESSAGE_LIMITS = {
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
} as const;
