// The runtime's public face (`cnnc/runtime`): every backend, for programs that load networks
// themselves. A bundle's own index.js imports runtime/open-network.js instead, with only its backends.
export { allBackends, BackendError, loadBundle, networkFromArtifacts, type GpuProvider, type LoadOptions } from "./load.js";
export { openBundle, networkFromFiles, type Backends, type FetchLike, type FileSource, type ResponseLike } from "./open-network.js";
export { Network, InputError, type TensorData, type Inputs, type Outputs } from "./session.js";
export type { Manifest, TensorSpec } from "./manifest.js";
export { fromImage, fromPixels, type ImageOptions, type ImageSource, type Normalization } from "./image.js";
export { topK, parseLabels, type Ranked } from "./top-k.js";
