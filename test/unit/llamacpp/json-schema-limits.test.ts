import { describe, expect, it } from "vitest";
import type { ResponseFormat } from "../../../src/core/chat.js";
import { InvalidInputError } from "../../../src/core/errors.js";
import { LlamaCppChatProvider } from "../../../src/providers/llamacpp/chat-provider.js";
import {
  checkJsonSchemaLimits,
  JSON_SCHEMA_LIMITS,
} from "../../../src/providers/llamacpp/json-schema-limits.js";

const enumSchema = (values: unknown[]) => ({
  type: "object",
  properties: { v: { enum: values } },
  required: ["v"],
});
const nested = (depth: number) => {
  let schema: Record<string, unknown> = { type: "string" };
  for (let i = 0; i < depth; i++) schema = { type: "object", properties: { p: schema } };
  return schema;
};

/** Runs one request on a provider whose model file does not exist: only the request checks run. */
async function refusal(responseFormat: ResponseFormat): Promise<unknown> {
  const provider = new LlamaCppChatProvider({ modelPath: "/nonexistent/model.gguf", adapters: {} });
  try {
    for await (const _ of provider.stream({
      target: { model: "base", adapters: [], base: true },
      messages: [{ role: "user", content: "hi" }],
      params: {},
      responseFormat,
    })) {
      // drain
    }
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("llama.cpp json_schema limits", () => {
  it.each([
    [
      "a 20,000-value enum",
      enumSchema(Array.from({ length: 20_000 }, (_, i) => `value-${i}`)),
      /268954 bytes of JSON, at most 65536/,
    ],
    [
      "1,001 enum values",
      enumSchema(Array.from({ length: 1_001 }, (_, i) => i)),
      /more than 1000 enum\/const values/,
    ],
    ["a schema nested 40 deep", nested(40), /nests deeper than 48 levels/],
    [
      "enum values under a property named enum",
      { type: "object", properties: { enum: { enum: Array.from({ length: 1_001 }, (_, i) => i) } } },
      /more than 1000 enum\/const values/,
    ],
    [
      "a $ref to #/definitions (node-llama-cpp would allow any JSON there)",
      {
        type: "object",
        properties: { a: { $ref: "#/definitions/A" } },
        definitions: { A: { type: "string" } },
      },
      /"\$ref": "#\/definitions\/A"; the llamacpp provider follows only references to "#\/\$defs\/<name>"/,
    ],
    [
      "a $ref to a missing definition",
      { type: "object", properties: { a: { $ref: "#/$defs/B" } }, $defs: { A: { type: "string" } } },
      /no "\$defs" around it defines "B"/,
    ],
    [
      "a $ref named like an Object.prototype member (node-llama-cpp would force null)",
      { type: "object", properties: { a: { $ref: "#/$defs/constructor" } }, required: ["a"] },
      /no "\$defs" around it defines "constructor"/,
    ],
  ])(
    "refuses %s with a 400 on response_format before loading a model or building a grammar",
    async (_, schema, message) => {
      const error = await refusal({ type: "json_schema", schema });
      expect(error).toBeInstanceOf(InvalidInputError);
      expect(error).toMatchObject({ status: 400, param: "response_format" });
      expect((error as Error).message).toMatch(message);
    },
  );

  it("accepts ordinary schemas, up to the limits", () => {
    const atLimit = enumSchema(Array.from({ length: JSON_SCHEMA_LIMITS.maxEnumValues }, (_, i) => i));
    for (const schema of [atLimit, nested(20), { type: "object", properties: { const: { const: 1 } } }]) {
      expect(() => checkJsonSchemaLimits({ type: "json_schema", schema })).not.toThrow();
    }
    const withDefs = {
      type: "object",
      $defs: { Point: { type: "object", properties: { x: { type: "number" } } } },
      properties: {
        a: { $ref: "#/$defs/Point" },
        list: { type: "array", items: { $ref: "#/$defs/Point" } },
        $ref: { type: "string" }, // a property named $ref is a schema, not a reference
      },
      examples: [{ $ref: "not a reference, an example value" }],
    };
    expect(() => checkJsonSchemaLimits({ type: "json_schema", schema: withDefs })).not.toThrow();
    expect(() => checkJsonSchemaLimits({ type: "json" })).not.toThrow();
    expect(() => checkJsonSchemaLimits(undefined)).not.toThrow();
  });
});
