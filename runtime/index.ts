// The runtime's public face, copied into every bundle.
export { BackendError, loadBundle, networkFromArtifacts, type GpuProvider, type LoadOptions } from "./load.js";
export { Network, InputError, type TensorData, type Inputs, type Outputs } from "./session.js";
export type { Manifest, TensorSpec } from "./manifest.js";
export { fromImage, fromPixels, type ImageOptions, type ImageSource, type Normalization } from "./image.js"; export { topK, parseLabels, type Ranked } from "./top-k.js";
