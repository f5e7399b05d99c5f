export * from "./groups.js";
export * from "./choose.js";
export * from "./measure.js";
export * from "./recipe-file.js";
