export { type TracingOptions, TracingPlugin } from "./tracing-plugin.js";
