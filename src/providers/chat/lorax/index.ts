export { ChatTemplate, type ChatTemplateSource, readTokenizerConfig } from "./chat-template.js";
export { chunksFromGenerateStream } from "./generate-stream.js";
export {
  LoraxChatProvider,
  type LoraxChatProviderOptions,
  type LoraxMergeOptions,
} from "./lorax-provider.js";
