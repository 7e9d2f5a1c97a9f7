export {
  categoryMap,
  type ExpertCategories,
  normalizeCategory,
  readExpertCategories,
} from "./category-map.js";
export {
  type DatasetRecord,
  DEFAULT_MAX_RECORD_BYTES,
  detectDatasetFormat,
  type ReadDatasetOptions,
  readDatasetRows,
} from "./dataset-rows.js";
export { Hash64Set, type Hash64SetOptions } from "./hash-set.js";
export { type ReadLine, readLines } from "./line-reader.js";
export { Reservoir } from "./reservoir.js";
export {
  type SegmentOptions,
  type SegmentReport,
  segmentDataset,
  TRAINING_FORMATS,
  type TrainingFormat,
  trainingLine,
} from "./segment.js";
