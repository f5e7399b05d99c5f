export * from "./llama4/names.js";
