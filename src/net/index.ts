/**
 * The networking layer's public API. Other layers import from here only.
 * Usage: docs/networking.md.
 */
export { parseAddress, formatAddress, Transport, type ParsedAddress } from './address.js';
export { s, Schema, describe, type Infer, type SchemaFailure } from './schema.js';
export {
  defineMessages,
  defineMethods,
  noMessages,
  MessageTable,
  MethodTable,
  type MessageOf,
  type MessageSpec,
  type MessageSpecs,
  type MethodSpec,
  type MethodSpecs,
  type MethodName,
  type RequestOf,
  type ResponseOf,
} from './messages.js';
export {
  Connection,
  ConnectionState,
  type ConnectionOptions,
  type MessageHandler,
} from './connection.js';
export { listen, connect, type ListenOptions, type ConnectOptions, type Listener } from './endpoint.js';
export type { TlsOptions, PeerIdentity } from './transport.js';
export { identityNames } from './transport.js';
export { RpcClient, type CallOptions, type RpcClientOptions } from './rpc-client.js';
export { RpcServer, type CallContext, type Handler, type Handlers, type RpcServerOptions } from './rpc-server.js';
export { PeerLink, PeerLinkState, WhenDisconnected, type PeerLinkOptions, type PeerLinkStats } from './peer-link.js';
export { FrameDecoder, frameBytesMaxDefault } from './frame-decoder.js';
export {
  InboundBudget,
  processInboundBudget,
  partialFrameBytesMaxDefault,
  defaultConnectionsMax,
  fdSoftLimit,
  fdReserveDefault,
  BurstLog,
} from './inbound-limits.js';
export type { Logger } from '../common/logger.js';
export {
  NetAbortedError,
  ConnectError,
  ConnectionClosedError,
  DecodeError,
  FrameTooLargeError,
  FrameTooSlowError,
  HandshakeTimeoutError,
  InboundBudgetExceededError,
  ConnectionRefusedError,
  IdleTimeoutError,
  InvalidAddressError,
  ListenError,
  RemoteError,
  SendQueueFullError,
  NetTimeoutError,
  TooManyPendingCallsError,
  UnknownMessageError,
  internalErrorCode,
  unknownMethodCode,
} from './errors.js';
