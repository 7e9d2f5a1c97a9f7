export {
  type CoveragePoint,
  coverageCurve,
  expectedCalibrationError,
  fitTemperature,
  negativeLogLikelihood,
  type ScoredPrediction,
  softmaxWithTemperature,
  thresholdForAccuracy,
} from "./calibration.js";
export { type FitRoutingOptions, type FitRoutingResult, fitLinearRouting, type LinearScorer } from "./fit.js";
export { IntTable } from "./int-table.js";
export { type LbfgsOptions, type LbfgsResult, minimizeLbfgs, type Objective } from "./lbfgs.js";
export { LinearModel, type LinearModelData, type SparseFeatures } from "./linear-model.js";
export {
  crossValidatedLogits,
  type FeatureMatrix,
  featureMatrix,
  matrixLogits,
  type SoftmaxRegressionOptions,
  type SoftmaxWeights,
  selectRows,
  trainSoftmaxRegression,
} from "./softmax-regression.js";
