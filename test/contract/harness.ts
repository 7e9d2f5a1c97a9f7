import type { EngineStandIn } from "../fixtures/engines/wire.js";
import type { ContractHarness } from "./chat-provider-contract.js";

/**
 * The harness parts every engine stand-in offers: failures inside a stream and held streams.
 * (Under msw a client abort does not reach the mocked body; the end-to-end tests check on real
 * sockets that a disconnect cancels the engine's stream.)
 */
export function standInHooks(
  standIn: EngineStandIn,
): Pick<ContractHarness, "failNextStream" | "holdStreams"> {
  return {
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
