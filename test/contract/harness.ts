import type { EngineStandIn } from "../fixtures/engines/wire.js";
import type { ContractHarness } from "./chat-provider-contract.js";

/**
 * The harness parts every engine stand-in offers: failures inside a stream, held streams, and the
 * token counts its last reply carried.
 * (Under msw a client abort does not reach the mocked body; the end-to-end tests check on real
 * sockets that a disconnect cancels the engine's stream.)
 */
export function standInHooks(
  standIn: EngineStandIn,
): Pick<ContractHarness, "failNextStream" | "holdStreams" | "reportedUsage"> {
  return {
    reportedUsage: () => {
      const counts = standIn.reportedUsage;
      return counts ? { inputTokens: counts.promptTokens, outputTokens: counts.completionTokens } : null;
    },
    failNextStream: () => {
      standIn.failNextStream = true;
    },
    holdStreams: () => {
      let release!: () => void;
      standIn.hold = new Promise<void>((r) => {
        release = r;
      });
      return () => {
        standIn.hold = undefined;
        release();
      };
    },
  };
}
