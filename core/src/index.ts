export * from "./contract.js";
export * from "./config.js";
export * from "./log.js";
export * from "./http.js";
export * from "./poller.js";
export * from "./collector.js";
export * from "./metrics/depth.js";
export * from "./metrics/exposition.js";
export * from "./metrics/health.js";
export * from "./sources/types.js";
export * from "./sources/errors.js";
export * from "./sources/filter.js";
export * from "./sources/body.js";
export * from "./sources/merge.js";
export * from "./brokers/adapter.js";
export * from "./brokers/index.js";
export {
  RABBITMQ_SOURCE_KINDS,
  queueDepthSources,
  rabbitmqSettings,
  vhostDepthSources,
} from "./brokers/rabbitmq/index.js";
export { JetStreamSource, JszSource, jetStreamDepthSources, natsSettings } from "./brokers/nats/index.js";
export * from "./cli.js";
export * from "./reserved-headers.js";
export * from "./brokers/rabbitmq/topology.js";
export * from "./brokers/nats/topology.js";
export { natsConnectionOptions } from "./brokers/nats/connection.js";
export { jetStreamPullWindow } from "./brokers/nats/worker/pull-window.js";
export * from "./util/promises.js";
export * from "./util/backoff.js";
export * from "./consumer/types.js";
export * from "./consumer/message.js";
export * from "./publisher/types.js";
export * from "./publisher/existence-cache.js";
export * from "./util/semaphore.js";
export * from "./util/net.js";
export * from "./util/wait.js";
export * from "./util/regexp.js";
export * from "./util/statistics.js";
export { getJson, getText, httpEndpoint, endpointUrl, HttpStatusError, type HttpEndpoint } from "./sources/http-get.js";
export { vhostOfAmqpUrl } from "./brokers/rabbitmq/amqp-reading.js";
export { onThrowawayChannel } from "./brokers/rabbitmq/throwaway-channel.js";
