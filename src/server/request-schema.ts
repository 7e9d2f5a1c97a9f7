import { z } from "zod";

/**
 * The zod schemas of the OpenAI Chat Completions request that Herd's facade understands.
 * Fields follow the OpenAI OpenAPI document (CreateChatCompletionRequest); `null` means "absent"
 * wherever OpenAI allows it. Herd adds `top_k`, `repetition_penalty` and `top_experts`.
 * Fields not listed here are accepted and reported in a warning header (see `unsupported-fields.ts`).
 */

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const refusalPart = z.object({ type: z.literal("refusal"), refusal: z.string() });
/** A content part Herd cannot pass to a text model (image, audio, file): rejected with a clear message. */
const otherPart = z.object({ type: z.string() }).loose();

const textContent = z.union([z.string(), z.array(textPart)], {
  error: 'must be a string or an array of text parts ({type: "text", text})',
});

const systemMessage = z.object({
  role: z.enum(["system", "developer"]),
  content: textContent,
  name: z.string().nullish(),
});

const userMessage = z.object({
  role: z.literal("user"),
  content: z.union([z.string(), z.array(z.union([textPart, otherPart]))], {
    error: 'must be a string or an array of content parts ({type: "text", text})',
  }),
  name: z.string().nullish(),
});

const toolCallSchema = z.object({
  id: z.string(),
  type: z.literal("function").optional(),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});

/** The deprecated single function call of an assistant message (before `tool_calls`). */
const functionCallSchema = z.object({ name: z.string().min(1), arguments: z.string() });

const assistantMessage = z.object({
  role: z.literal("assistant"),
  function_call: functionCallSchema.nullish(),
  content: z
    .union([z.string(), z.array(z.union([textPart, refusalPart]))], {
      error: "must be a string, null, or an array of text or refusal parts",
    })
    .nullish(),
  tool_calls: z.array(toolCallSchema).nullish(),
  refusal: z.string().nullish(),
  name: z.string().nullish(),
});

const toolMessage = z.object({
  role: z.literal("tool"),
  content: textContent,
  tool_call_id: z.string(),
});

/** The deprecated result of a function call (`role: "function"`): a tool result named by function. */
const functionMessage = z.object({
  role: z.literal("function"),
  name: z.string().min(1),
  content: z.string().nullable(),
});

/** One message of the conversation, told apart by `role`. */
export const messageSchema = z.discriminatedUnion("role", [
  systemMessage,
  userMessage,
  assistantMessage,
  toolMessage,
  functionMessage,
]);

/** OpenAI tool names: letters, digits, `_` and `-`, at most 64 characters. */
const toolName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "must be 1 to 64 letters, digits, '_' or '-'");

const functionSchema = z.object({
  name: toolName,
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});

const toolSchema = z.object({
  type: z.literal("function", {
    error:
      'must be "function": Herd calls function tools only; custom (free-form) tools are not supported, declare a function with a JSON schema instead',
  }),
  function: functionSchema,
});

const namedFunction = z.object({ type: z.literal("function"), function: z.object({ name: toolName }) });

const toolChoiceSchema = z.union(
  [
    z.enum(["none", "auto", "required"]),
    namedFunction,
    z.object({
      type: z.literal("allowed_tools"),
      allowed_tools: z.object({
        mode: z.enum(["auto", "required"]),
        tools: z.array(namedFunction).min(1, "must name at least one tool"),
      }),
    }),
  ],
  {
    error:
      'must be "none", "auto", "required", {type: "function", function: {name}} or {type: "allowed_tools", allowed_tools: {mode, tools}} (custom tools are not supported)',
  },
);

/** The deprecated `function_call`: "none", "auto" or `{name}`. */
const functionCallChoiceSchema = z.union([z.enum(["none", "auto"]), z.object({ name: toolName })], {
  error: 'must be "none", "auto" or {name}',
});

/** The most choices (`n`) one request may ask for: each is a whole generation on the backend. */
export const MAX_CHOICES = 8;

const responseFormatSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    json_schema: z.object({
      name: z.string(),
      description: z.string().nullish(),
      schema: z.record(z.string(), z.unknown()).nullish(),
      strict: z.boolean().nullish(),
    }),
  }),
]);

const positiveInt = z.number().int().min(1);

/** The request body of `POST /v1/chat/completions`, restricted to the fields Herd acts on. */
export const chatCompletionRequestSchema = z.object({
  model: z.string().min(1),
  messages: z.array(messageSchema).min(1, "must contain at least one message"),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_k: z.number().int().min(0).nullish(),
  repetition_penalty: z.number().gt(0).nullish(),
  max_tokens: positiveInt.nullish(),
  max_completion_tokens: positiveInt.nullish(),
  stop: z
    .union([z.string(), z.array(z.string()).max(16, "must hold at most 16 stop sequences")], {
      error: "must be a string or an array of strings",
    })
    .nullish(),
  seed: z.number().int().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).loose().nullish(),
  tools: z.array(toolSchema).nullish(),
  tool_choice: toolChoiceSchema.nullish(),
  response_format: responseFormatSchema.nullish(),
  top_experts: positiveInt.max(64).nullish(),
  n: positiveInt
    .max(MAX_CHOICES, `must be at most ${MAX_CHOICES}: Herd generates each choice separately`)
    .nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  functions: z.array(functionSchema).min(1).max(128).nullish(),
  function_call: functionCallChoiceSchema.nullish(),
});

/** A validated chat completion request. */
export type ChatCompletionRequestBody = z.infer<typeof chatCompletionRequestSchema>;
/** A validated message. */
export type ChatCompletionMessage = z.infer<typeof messageSchema>;

/** The request body of `POST /v1/route`: the routing decision alone. */
export const routeRequestSchema = z.object({
  model: z.string().min(1).nullish(),
  messages: z.array(messageSchema).min(1, "must contain at least one message").nullish(),
  input: z.string().nullish(),
  top_experts: positiveInt.max(64).nullish(),
});

/** A validated route request. */
export type RouteRequestBody = z.infer<typeof routeRequestSchema>;
