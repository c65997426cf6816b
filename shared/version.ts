/** tandem's version and the protocol version both sides announce in Describe. */
export const TANDEM_VERSION = '0.1.0';
/** The gRPC package both sides speak. */
export const PROTOCOL_VERSION = 'tandem.v2';
