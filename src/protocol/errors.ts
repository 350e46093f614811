/** A malformed or oversized input that ends the connection after the reply it names. */
export class ProtocolError extends Error {
  /** Stable code, sent as the ERROR packet's code (libgearman enum names without GEARMAN_). */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}
