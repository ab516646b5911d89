// `cnnc show kernels|features`: picks the layer (a diagnostic with a suggestion when the name
// is wrong, or when the layer has no kernels), computes the value for feature maps with the
// reference interpreter, composes the picture (pictures/grids.ts, pure) and encodes it as PNG
// with pngjs here, at the command line's edge.

import { PNG } from "pngjs";
import type { Graph, Node } from "./ir/graph.js";
import type { Picture } from "./pictures/grids.js";
import { featureGrid, type GridPicture, kernelGrid } from "./pictures/grids.js";
import { interpret } from "./reference/interpret.js";
import type { Tensor } from "./reference/tensor.js";
import { didYouMean } from "./suggest.js";

export type Shown = { readonly ok: true; readonly picture: GridPicture; readonly what: string } | { readonly ok: false; readonly error: string };

/** Layers whose weight is a stack of kernels [F, C, k...] this command draws. */
const KERNEL_OPS: ReadonlySet<string> = new Set(["conv", "deconv"]);

const layers = (g: Graph, ok: (n: Node) => boolean) => [...new Set(g.nodes.filter(ok).map((n) => n.layer))];

/** The kernels of `layer` (default: the first layer with kernels) as a grid picture. */
export function showKernels(g: Graph, layer: string | undefined, scale?: number): Shown {
  const drawable = (n: Node) => KERNEL_OPS.has(n.op.kind) && n.weights.weight !== undefined && n.weights.weight.shape.length >= 3 && n.weights.weight.shape.length <= 4;
  const candidates = layers(g, drawable);
  // By default the first convolution drawn, else the first one (which then says why not).
  const node = layer === undefined ? (g.nodes.find(drawable) ?? g.nodes.find((n) => KERNEL_OPS.has(n.op.kind))) : g.nodes.find((n) => n.layer === layer);
  if (!node) {
    if (layer === undefined) return { ok: false, error: "the network has no convolution layer with kernels to draw" };
    return { ok: false, error: `the network has no layer '${layer}'${didYouMean(layer, layers(g, () => true))}; layers with kernels: ${candidates.join(", ") || "none"}` };
  }
  if (!drawable(node)) {
    const why = node.op.kind === "local" || node.op.kind === "tiled"
      ? `a ${node.op.kind} layer has a kernel per output position${node.op.kind === "tiled" ? " tile" : ""}, which this command does not draw`
      : KERNEL_OPS.has(node.op.kind)
        ? "its kernels have more than 2 spatial axes; 1-D and 2-D kernels are drawn"
        : `it is ${node.op.kind === "activation" ? "an activation" : `a ${node.op.kind} layer`}, which has no kernels`;
    return { ok: false, error: `layer '${node.layer}' cannot be drawn as kernels: ${why}; layers with kernels: ${candidates.join(", ") || "none"}` };
  }
  const w = node.weights.weight!;
  const source = w.source.kind === "init" ? `initialised: ${w.source.description}` : w.source.kind === "file" ? `from ${w.source.file}` : w.source.kind === "named" ? `the named kernel ${w.source.name}` : w.source.kind === "literal" ? "written in the source" : w.source.kind === "constant" ? "a constant of the op" : `folded from ${w.source.from}`;
  const [F, C, ...k] = w.shape;
  return { ok: true, picture: kernelGrid({ shape: w.shape, data: w.data }, { scale }), what: `${node.layer}: ${F} filter${F === 1 ? "" : "s"} of ${C} channel${C === 1 ? "" : "s"}, ${k.join("x")} (${source})` };
}

/**
 * What --layer names for feature maps: a layer (its output), a network output, or a statement
 * (`c1 = ...`): the value of its last unlabelled layer, named `c1.<position>`.
 */
function valueNamed(g: Graph, name: string): number | undefined {
  // A shared layer applied twice: its first application.
  const node = g.nodes.find((n) => n.layer === name);
  if (node) return node.output;
  const out = g.outputs.find((o) => o.name === name);
  if (out) return out.value;
  const inStatement = g.nodes.filter((n) => n.layer.startsWith(`${name}.`) && /^\d+$/.test(n.layer.slice(name.length + 1)));
  return inStatement.at(-1)?.output;
}

/** Statement names, from unlabelled layers' names (`c1.2` -> `c1`). */
function statements(g: Graph): string[] {
  return [...new Set(g.nodes.flatMap((n) => /^(.*)\.\d+$/.exec(n.layer)?.[1] ?? []))];
}

/** The feature maps of `layer` (a layer or a statement's value) for one sample of inputs. */
export function showFeatures(g: Graph, inputs: ReadonlyMap<string, Tensor>, layer: string, scale?: number): Shown {
  const id = valueNamed(g, layer);
  if (id === undefined) {
    const names = [...layers(g, () => true), ...g.outputs.map((o) => o.name), ...statements(g)];
    return { ok: false, error: `the network has no layer or value '${layer}'${didYouMean(layer, names)}; its layers: ${layers(g, (n) => !/\.\d+$/.test(n.layer)).join(", ")}; statements: ${statements(g).join(", ")}` };
  }
  const env = new Map<number, Tensor>();
  interpret(g, inputs, env);
  const t = env.get(id);
  if (!t) return { ok: false, error: `internal error: value ${layer} was not computed` };
  if (t.shape.length > 3) return { ok: false, error: `'${layer}' is [${t.shape.join(", ")}]: feature maps are drawn for values with up to 2 spatial axes` };
  const [C] = t.shape;
  return { ok: true, picture: featureGrid(t, { scale }), what: `${layer}: ${t.shape.length === 1 ? 1 : C} map${C === 1 ? "" : "s"} of [${t.shape.join(", ")}]` };
}

/** RGBA pixels as a PNG file. */
export function encodePng(p: Picture): Uint8Array {
  const png = new PNG({ width: p.width, height: p.height });
  png.data = Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength);
  return new Uint8Array(PNG.sync.write(png));
}
