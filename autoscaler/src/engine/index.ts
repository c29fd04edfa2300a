export * from "./quantity.js";
export * from "./spec.js";
export * from "./replicas.js";
export * from "./state.js";
export * from "./behavior.js";
export * from "./controller.js";
