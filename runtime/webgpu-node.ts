/// <reference types="@webgpu/types" />
// WebGPU in Node: finds an adapter through the `webgpu` npm package (Dawn) by itself. Only
// ever imported dynamically, and only in Node, so a browser never loads it.
//
// Order: Dawn's default backend (a real GPU: Vulkan on Linux, Metal, D3D12), then its
// fallback (CPU) adapter, then the OpenGL ES backend in compatibility mode, which Mesa's
// llvmpipe provides on machines with no GPU at all (libegl1 libegl-mesa0 libgles2
// libgl1-mesa-dri). EGL needs `EGL_PLATFORM=surfaceless` without a display; we set it
// ourselves (unless the user did) before Dawn first loads EGL. CNNC_WEBGPU_BACKEND=default |
// vulkan | opengles restricts the search to one of them (and `none` finds nothing).
//
// Every GPU object create() returns is kept in a module-level list for the life of the
// process: Dawn crashes when one is garbage-collected while its devices live on.

import type { GpuProvider } from "./open-network.js";
import { BackendError } from "./backend-error.js";
import { type AdapterChoice, describeAdapter } from "./webgpu.js";

interface DawnModule {
  create(options: string[]): GpuProvider;
}

const instances: GpuProvider[] = [];

/** How the adapter was found: an adapter creates one device only, so each load asks again. */
interface Recipe {
  readonly gpu: GpuProvider;
  readonly options: GPURequestAdapterOptions;
  readonly how: string;
  readonly compatibility: boolean;
}

let found: Promise<Recipe | undefined> | undefined;

async function dawn(): Promise<DawnModule> {
  // A computed specifier: bundlers for the web leave it alone, and the package stays optional.
  const name = "webgpu";
  let mod: unknown;
  try {
    mod = await import(/* webpackIgnore: true */ /* @vite-ignore */ name);
  } catch (e) {
    // cnnc does not install Dawn (130 MB) by default: WebGPU in Node is opt-in.
    throw new BackendError(`WebGPU in Node needs the \`webgpu\` package (Dawn), which cnnc does not install: install the \`webgpu\` package: npm i webgpu (${(e as Error).message})`);
  }
  const create = (mod as Partial<DawnModule>).create;
  if (typeof create !== "function") throw new BackendError("the `webgpu` package does not export create()");
  return { create };
}

async function request(recipe: Recipe): Promise<AdapterChoice | undefined> {
  const adapter = (await recipe.gpu.requestAdapter(recipe.options).catch(() => null)) as GPUAdapter | null;
  return adapter ? { adapter, description: describeAdapter(adapter, recipe.how, recipe.compatibility) } : undefined;
}

/** The first adapter the search found, handed out once before asking again. */
let spare: AdapterChoice | undefined;

async function tryRecipe(gpu: GpuProvider | undefined, options: GPURequestAdapterOptions, how: string, compatibility: boolean): Promise<Recipe | undefined> {
  if (!gpu) return undefined;
  const recipe = { gpu, options, how, compatibility };
  spare = await request(recipe);
  return spare ? recipe : undefined;
}

/**
 * False only where Dawn's Vulkan backend surely finds nothing: on Linux without the Vulkan
 * loader (libvulkan.so.1 in neither the linker cache nor LD_LIBRARY_PATH). Trying it there makes
 * Dawn's native code print "Warning: Couldn't load Vulkan: ..." straight to stderr, where no
 * JavaScript can hide it and users read it as a crash; so we do not try.
 */
async function vulkanMayLoad(): Promise<boolean> {
  if (process.platform !== "linux") return true;
  // A computed specifier, as for Dawn: bundlers for the web must not follow it.
  const fsName = "node:fs";
  const fs = (await import(/* webpackIgnore: true */ /* @vite-ignore */ fsName)) as typeof import("node:fs");
  const loader = "libvulkan.so.1";
  try {
    if (fs.readFileSync("/etc/ld.so.cache").includes(loader)) return true;
  } catch {
    return true; // no linker cache to ask (an unusual system): let Dawn try
  }
  const dirs = (process.env.LD_LIBRARY_PATH ?? "").split(":").filter((d) => d !== "");
  return dirs.some((d) => fs.existsSync(`${d}/${loader}`));
}

function instance(mod: DawnModule, flags: string[]): GpuProvider | undefined {
  try {
    const gpu = mod.create(flags);
    instances.push(gpu);
    return gpu;
  } catch {
    return undefined;
  }
}

/** A fresh adapter the way cnnc finds one in Node (searched once per process), or undefined when there is none. */
export async function nodeAdapter(): Promise<AdapterChoice | undefined> {
  found ??= search();
  const recipe = await found;
  if (spare) {
    const first = spare;
    spare = undefined;
    return first;
  }
  return recipe ? request(recipe) : undefined;
}

async function search(): Promise<Recipe | undefined> {
  const mod = await dawn();
  process.env.EGL_PLATFORM ??= "surfaceless";
  const only = process.env.CNNC_WEBGPU_BACKEND;
  const want = (name: string) => !only || only === name;
  if (only === "vulkan" || (want("default") && (await vulkanMayLoad()))) {
    // Dawn's default backend (Vulkan on Linux): a real GPU, else its fallback (CPU) adapter.
    const gpu = instance(mod, only === "vulkan" ? ["backend=vulkan"] : []);
    const how = only === "vulkan" ? "Dawn (Vulkan)" : "Dawn";
    const real = await tryRecipe(gpu, { powerPreference: "high-performance" }, how, false);
    if (real) return real;
    const fallback = await tryRecipe(gpu, { forceFallbackAdapter: true }, `${how}, software fallback`, false);
    if (fallback) return fallback;
  }
  if (want("opengles")) {
    const gl = await tryRecipe(instance(mod, ["backend=opengles"]), { featureLevel: "compatibility" }, "Dawn (OpenGL ES)", true);
    if (gl) return gl;
  }
  return undefined;
}
