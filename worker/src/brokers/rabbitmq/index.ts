export { rabbitmqWorkerModule } from "./consumer.js";
