export { axolotlCommand, axolotlRecipe, type RecipeInput } from "./axolotl-recipe.js";
export {
  type FinetuneRecipe,
  type FinetuneRecipesOptions,
  type Trainer,
  trainingBaseModel,
  writeFinetuneRecipes,
} from "./finetune-recipes.js";
export { PEFT_REQUIREMENTS, PEFT_SCRIPT, peftCommand, peftConfig } from "./peft-recipe.js";
export { HERD_QLORA, herdQloraValues, type QloraSettings, type TrainingSetting } from "./qlora-settings.js";
export {
  findExecutable,
  installHint,
  runTrainer,
  TrainerNotInstalledError,
  type TrainerOutput,
} from "./run-trainer.js";
