import { describe, expect, it } from "vitest";
import { parsePairs, printBuildEvent } from "../../../src/cli/commands/build.js";
import { InvalidInputError } from "../../../src/core/errors.js";
import { renderModelfile } from "../../../src/providers/ollama-build/modelfile.js";

describe("renderModelfile", () => {
  it("writes comments, FROM, ADAPTER, TEMPLATE, SYSTEM and one PARAMETER line per stop", () => {
    expect(
      renderModelfile({
        comments: ["herd-sql: SQL expert"],
        from: "llama3.2:3b",
        adapter: "./sql-lora.gguf",
        template: "{{ if .System }}<|system|>{{ .System }}{{ end }}\n{{ .Prompt }}",
        system: "You translate questions into SQL.",
        parameters: { temperature: 0.2, stop: ["<|eot_id|>", "User: "], num_ctx: 4096 },
      }),
    ).toBe(
      [
        "# herd-sql: SQL expert",
        "",
        "FROM llama3.2:3b",
        "ADAPTER ./sql-lora.gguf",
        'TEMPLATE """{{ if .System }}<|system|>{{ .System }}{{ end }}',
        '{{ .Prompt }}"""',
        'SYSTEM """You translate questions into SQL."""',
        "PARAMETER temperature 0.2",
        "PARAMETER stop <|eot_id|>",
        'PARAMETER stop "User: "',
        "PARAMETER num_ctx 4096",
        "",
      ].join("\n"),
    );
  });

  it("refuses text the Modelfile syntax cannot hold", () => {
    expect(() => renderModelfile({ from: "x", system: 'say """hi"""' })).toThrow(InvalidInputError);
    expect(() => renderModelfile({ from: "x", parameters: { stop: "a\nb" } })).toThrow(/cannot span lines/);
  });
});

describe("herd build CLI helpers", () => {
  it("parses --pairs", () => {
    expect(parsePairs("code+reasoning, qa+general")).toEqual([
      ["code", "reasoning"],
      ["qa", "general"],
    ]);
    expect(() => parsePairs("code+code")).toThrow(/two different experts/);
    expect(() => parsePairs("code")).toThrow(/two different experts/);
  });

  it("prints create status lines and upload progress in 25% steps", () => {
    const lines: string[] = [];
    const print = printBuildEvent((l) => lines.push(l));
    for (const completed of [10, 20, 30, 60, 100]) {
      print({
        type: "progress",
        model: "herd-code",
        progress: { status: "uploading sha256:abc", total: 100, completed },
      });
    }
    print({ type: "progress", model: "herd-code", progress: { status: "writing manifest" } });
    print({ type: "created", model: "herd-code" });
    expect(lines).toEqual([
      "herd-code: uploading sha256:abc 10%\n",
      "herd-code: uploading sha256:abc 30%\n",
      "herd-code: uploading sha256:abc 60%\n",
      "herd-code: uploading sha256:abc 100%\n",
      "herd-code: writing manifest\n",
      "herd-code: created\n",
    ]);
  });
});
