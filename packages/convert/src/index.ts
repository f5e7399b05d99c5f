export * from "./hub/index.js";
