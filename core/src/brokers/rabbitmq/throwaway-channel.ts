import type { Channel, ChannelModel } from "amqplib";

/**
 * Runs `use` on a channel of its own, closed after. RabbitMQ answers a passive declare of a queue
 * that does not exist by closing the channel that asked; on a channel of its own, that takes no
 * other work with it.
 */
export async function onThrowawayChannel<T>(
  connection: ChannelModel,
  use: (channel: Channel) => Promise<T>,
): Promise<T> {
  const channel = await connection.createChannel();
  channel.on("error", () => undefined);
  try {
    return await use(channel);
  } finally {
    await channel.close().catch(() => undefined);
  }
}
