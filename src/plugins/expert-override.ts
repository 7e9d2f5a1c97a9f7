import { InvalidInputError } from "../core/errors.js";
import type { RequestContext } from "../core/pipeline.js";
import type { Plugin } from "../core/plugin.js";

/** Settings of the expert-override plugin. */
export interface ExpertOverrideOptions {
  /** The prefix that names an expert in `model`: `herd:code`. @default "herd:" */
  prefix?: string;
  /** Model names that mean "route this request". @default ["herd", "herd:auto"] */
  routedModels?: string[];
  /**
   * What to do with a model name that is neither routed, an expert, nor the base model (clients often
   * send a hard-coded "gpt-4o"): `route` it with a warning, or fail with `InvalidInputError`. @default "route"
   */
  unknownModel?: "route" | "error";
}

/**
 * Lets a request pick its expert through the model name: `herd:<expert>` or an expert's own model
 * (`herd-code`) forces that expert, `herd:base` or the base model's name skips routing, `herd` routes.
 * Unknown expert names fail with `UnknownExpertError` listing the known ones.
 *
 * @example
 * createHerd({ plugins: [{ name: "expert-override", options: { unknownModel: "error" } }] });
 * await herd.stream({ model: "herd:code", messages }); // always the code expert
 */
export class ExpertOverridePlugin implements Plugin {
  readonly name = "expert-override";
  /** Runs early, so later plugins see the forced expert. */
  readonly order = -100;
  private readonly prefix: string;
  private readonly routed: ReadonlySet<string>;
  private readonly unknownModel: "route" | "error";

  constructor(options: ExpertOverrideOptions = {}) {
    this.prefix = options.prefix ?? "herd:";
    this.routed = new Set(options.routedModels ?? ["herd", "herd:auto"]);
    this.unknownModel = options.unknownModel ?? "route";
  }

  onRequest(ctx: RequestContext): void {
    const model = ctx.request.model?.trim();
    if (!model || this.routed.has(model) || ctx.routeOptions.experts?.length) return;
    const { experts, baseModel } = ctx.experts;
    if (model.startsWith(this.prefix)) {
      const name = model.slice(this.prefix.length);
      if (name === "base") ctx.routeOptions.baseOnly = true;
      // An unknown name is reported by the pipeline with the list of known experts.
      else ctx.routeOptions.experts = [name];
      return;
    }
    const byModel = experts.find((e) => e.model === model || e.name === model);
    if (byModel) {
      ctx.routeOptions.experts = [byModel.name];
      return;
    }
    if (model === baseModel) {
      ctx.routeOptions.baseOnly = true;
      return;
    }
    const hint =
      `Use "herd" to route, "${this.prefix}<expert>" (experts: ${experts.map((e) => e.name).join(", ")}), ` +
      `or the base model "${baseModel}".`;
    if (this.unknownModel === "error")
      throw new InvalidInputError(`Unknown model "${model}". ${hint}`, "model");
    ctx.warnings.push(`Model "${model}" is not a Herd model, so the request was routed. ${hint}`);
  }
}
