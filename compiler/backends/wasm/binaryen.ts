// binaryen.js, loaded only when WebAssembly is emitted. The package is a large wasm-compiled
// module whose import costs most of a `cnnc check` (hundreds of milliseconds), so the emitters
// read it through this live binding instead of a static import: `loadBinaryen()` assigns it,
// and compiler/index.ts awaits that at top level, so importing "cnnc" still gives a compile()
// that can emit. The CLI's check and explain import only modules that never call it.
// Types come through `import type` and the namespace below, which erases at run time.

import type B from "binaryen";

/** binaryen.js, once `loadBinaryen()` has resolved (undefined before: emitting then is a bug). */
export let binaryen: typeof B = undefined as unknown as typeof B;

// The type names the emitters write as `binaryen.Module` etc. A namespace of types only has no
// value, so it merges with the binding above.
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace binaryen {
  type Module = B.Module;
  type ExpressionRef = B.ExpressionRef;
  type Type = B.Type;
}

let loading: Promise<typeof B> | undefined;

/**
 * Loads binaryen.js once; later calls return the same module. `load` replaces the plain import
 * on the first call: the Node API passes one that uses V8's code cache (compiler/binaryen-node.ts).
 */
export function loadBinaryen(load?: () => Promise<typeof B>): Promise<typeof B> {
  loading ??= (load ?? (async () => (await import("binaryen")).default))().then((m) => {
    binaryen = m;
    return binaryen;
  });
  return loading;
}

/** Whether the emitters can run now (binaryen loaded). */
export function binaryenLoaded(): boolean {
  return binaryen !== undefined;
}
