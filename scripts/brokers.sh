#!/usr/bin/env bash
# Makes sure the local RabbitMQ (with management + prometheus plugins) and NATS (JetStream) answer.
# Starts them with their usual commands only when they do not answer; fails loudly otherwise.
set -euo pipefail

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { # port name seconds
  for _ in $(seq 1 "$3"); do answers "$1" && return 0; sleep 1; done
  echo "brokers: $2 does not answer on 127.0.0.1:$1" >&2
  return 1
}

if ! answers 5672; then
  command -v rabbitmq-server >/dev/null || { echo "brokers: RabbitMQ is not installed and not running on 127.0.0.1:5672" >&2; exit 1; }
  echo "brokers: starting RabbitMQ"
  rabbitmq-server -detached
  wait_for 5672 RabbitMQ 60
fi

missing=()
for plugin in rabbitmq_management rabbitmq_prometheus; do
  rabbitmq-plugins is_enabled "$plugin" --quiet >/dev/null 2>&1 || missing+=("$plugin")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "brokers: enabling ${missing[*]}"
  rabbitmq-plugins enable "${missing[@]}" >/dev/null
fi
wait_for 15672 "RabbitMQ management" 30
wait_for 15692 "RabbitMQ prometheus" 30

if ! answers 4222; then
  command -v nats-server >/dev/null || { echo "brokers: nats-server is not installed and not running on 127.0.0.1:4222" >&2; exit 1; }
  echo "brokers: starting NATS"
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server)" -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_for 4222 NATS 30
fi
echo "brokers: RabbitMQ 5672/15672/15692 and NATS 4222 answer"
