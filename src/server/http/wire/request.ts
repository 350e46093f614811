/** A parsed request as handlers see it, and where its body goes. */
import type { RequestHead } from './request-head.js';

/** Where a request body's bytes go; `data` gets views valid only during the call. */
export interface BodySink {
  data(buf: Buffer, start: number, end: number): void;
  end(): void;
}

/** A parsed request; its body reaches the sink set with `readBody` (else it is dropped). */
export class HttpRequest {
  readonly head: RequestHead;
  readonly remoteAddress: string;
  /** Set by the handler during its call; a body no sink takes is read and dropped. */
  bodySink: BodySink | undefined;

  constructor(head: RequestHead, remoteAddress: string) {
    this.head = head;
    this.remoteAddress = remoteAddress;
  }

  get method(): string {
    return this.head.method;
  }

  get url(): string {
    return this.head.url;
  }

  get rawHeaders(): readonly string[] {
    return this.head.rawHeaders;
  }
}
