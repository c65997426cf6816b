/**
 * Third-party notices that say nothing about tandem's own work, switched off by each library's
 * own switch, before anything loads the library. Only these named notices: every other warning,
 * tandem's own and Node's, is printed as before.
 */

/**
 * The AWS SDK for JavaScript v3 prints a NodeVersionSupportWarning through process.emitWarning
 * (no code, no type of its own) when an S3 client is made on Node < 22; it reads this variable
 * when the client is made. An operator who sets it explicitly keeps their choice.
 */
export const AWS_NODE_VERSION_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/** Switches the known third-party notices off for this process. */
export function silenceThirdPartyNotices(env: NodeJS.ProcessEnv = process.env): void {
  env[AWS_NODE_VERSION_SWITCH] ??= 'true';
}
