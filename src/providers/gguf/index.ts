export { bfloat16ToFloat, floatToBfloat16, floatToHalf, halfToFloat } from "./half.js";
export { gguf, ggufNumber, ggufString, ggufStringArray } from "./metadata.js";
export {
  decodeGgufTensor,
  ggufTensorInfo,
  parseGguf,
  readGgufHeader,
  readGgufTensor,
  readGgufTensorBytes,
  readGgufTensors,
} from "./reader.js";
export type {
  GgmlTypeCode,
  GgufArrayValue,
  GgufBigIntTypeName,
  GgufHeader,
  GgufMetadata,
  GgufNumberTypeName,
  GgufScalarValue,
  GgufTensorInfo,
  GgufValue,
  GgufValueTypeName,
} from "./types.js";
export {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPE_CODES,
  GGUF_VERSION,
  GgmlType,
  ggmlByteSize,
  ggmlTypeName,
} from "./types.js";
export type { GgufTensorData, GgufWriteInput, GgufWriteTensor } from "./writer.js";
export { encodeGguf, writeFileAtomic, writeGguf } from "./writer.js";
