// The producer's view of a broker is declared in core, next to the brokers that implement it.
export {
  QueueOperationError,
  type BrokerClient,
  type OutgoingMessage,
  type PublishFailureReason,
  type PublishOutcome,
  type PublishSession,
} from "@queuescale/core";
