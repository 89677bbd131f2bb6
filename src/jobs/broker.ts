/** One message as a consumer sees it, whatever the broker. */
export interface BrokerMessage {
  /** The broker's id of the message (Redis entry id, JetStream stream sequence): the idempotency key. */
  readonly id: string;
  readonly data: string;
  /** How many times the broker has delivered it, this time included. */
  readonly deliveries: number;
}

/**
 * What a stream consumer needs of a broker. At-least-once: a message is acknowledged only
 * with (or after) its result, so a consumer that dies leaves it to be delivered again.
 */
export interface Broker<M extends BrokerMessage = BrokerMessage> {
  /** For metrics and logs: `redis:tabular.requests`, `nats:TABULAR/tabular.requests`. */
  readonly label: string;
  /** Connects and creates the consumer group / durable consumer when missing. */
  connect(): Promise<void>;
  /**
   * Asks for up to `max` messages and hands each to `each` as it arrives; resolves when that
   * request is over (all came, or it waited its block time).
   */
  fetch(max: number, each: (m: M) => void): Promise<void>;
  /** Publishes the result under `resultId` and acknowledges the message. */
  complete(m: M, resultId: string, json: string): Promise<void>;
  /** Moves the message with its error to the dead-letter stream and acknowledges it. */
  deadLetter(m: M, error: string): Promise<void>;
  /** Leaves the message to be delivered again later. */
  retry(m: M): Promise<void>;
  /** Messages of the stream this consumer has not finished (undelivered plus unacknowledged). */
  lag(): Promise<number | undefined>;
  close(): Promise<void>;
}
