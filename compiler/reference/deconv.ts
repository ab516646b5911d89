// Transposed convolution by its definition (SPEC "Convolution", "Gradients"): the
// multiplication by the transpose of the forward convolution's matrix.
//
// The forward conv has the same kernel, stride, dilation, padding and groups; it maps an
// input of the size this op returns (`op.out`, O channels) to this op's input (C_in
// channels), with weight K [C_in, O/g, k1..kd] read as [its out channels, its in channels
// per group, k]. Its padding is resolved on ITS input size, op.out. Then
//
//   out[o, x] = sum over (c in o's group, j, k with j*s + k*r - padBefore = x) of K[c, o mod O/g, k] * in[c, j]
//             (+ bias[o])
//
// Written here as the literal transpose: every product of the forward conv (input position
// x, output j, tap k) is scattered back from in[c, j] to out[o, x]; taps that land in the
// forward conv's padding contribute nothing. A backend may gather instead; this scatter is
// a second, independent derivation to hold it to. <conv(x), y> == <x, deconv(y)> holds
// exactly, term by term.
//
// The size it returns cannot be read off its input (a strided conv maps several sizes to
// one), so a symbolic `op.out` is evaluated in `env`, the size symbols' values.

import { type DimEnv, evalDims } from "../ir/dim.js";
import { type DeconvOp, windowGeometry } from "../ir/ops.js";
import { fmtShape, indices, offset, sameShape, size, staticDims, strides, type Tensor, tensor } from "./tensor.js";

/** x [C_in, J1..Jd], weight [C_in, O/groups, k1..kd], bias [O] or none -> [O, ...op.out] (evaluated in env). */
export function deconv(x: Tensor, op: DeconvOp, weight: Tensor, bias: Tensor | undefined, env: DimEnv = {}): Tensor {
  const [Cin, ...inSpatial] = x.shape;
  const d = inSpatial.length;
  if (d < 1 || d > 3) throw new Error(`deconv: input ${fmtShape(x.shape)} needs 1 to 3 spatial axes`);
  if (op.kernel.length !== d || op.out.length !== d) {
    throw new Error(`deconv: kernel ${op.kernel.join("x")} returning ${op.out.length} axes on input ${fmtShape(x.shape)}`);
  }
  const out = staticDims(op.out.every((m) => typeof m === "number") ? op.out : evalDims(op.out, env), "deconv output");
  const O = op.filters;
  const G = op.groups;
  if (Cin % G !== 0 || O % G !== 0) throw new Error(`deconv: ${Cin} inputs and ${O} filters do not split into ${G} groups`);
  const Cg = Cin / G;
  const Og = O / G;
  const wShape = [Cin, Og, ...op.kernel];
  if (!sameShape(weight.shape, wShape)) throw new Error(`deconv: weight ${fmtShape(weight.shape)}, expected ${fmtShape(wShape)}`);
  // The forward conv on an input of size `out` must give exactly this op's input size.
  const geo = windowGeometry(out, op.kernel, op.stride, op.dilation, op.pad);
  const before = staticDims(geo.padBefore, "deconv padding");
  const fwd = staticDims(geo.out, "deconv forward size");
  if (!sameShape(fwd, inSpatial)) {
    throw new Error(`deconv: the forward conv maps size ${out.join("x")} to ${fwd.join("x")}, not to the input's ${inSpatial.join("x")}`);
  }
  if (op.bias === "channel") {
    if (bias === undefined) throw new Error(`deconv: bias: channel but no bias tensor`);
    if (!sameShape(bias.shape, [O])) throw new Error(`deconv: bias ${fmtShape(bias.shape)}, expected [${O}]`);
  } else if (bias !== undefined) throw new Error(`deconv: bias given to a layer with bias: none`);

  const outShape = [O, ...out];
  const xs = strides(x.shape);
  const ys = strides(outShape);
  const y = tensor(outShape);
  const kernels = [...indices(op.kernel)];
  const kVolume = size(op.kernel);
  for (let c = 0; c < Cin; c++) {
    const group = Math.floor(c / Cg);
    for (const j of indices(inSpatial)) {
      const v = x.data[offset([c, ...j], xs)];
      for (let n = 0; n < kVolume; n++) {
        const k = kernels[n];
        // The forward conv's input position read by output j through tap k.
        const p = j.map((ji, i) => ji * op.stride[i] + k[i] * op.dilation[i] - before[i]);
        if (p.some((pi, i) => pi < 0 || pi >= out[i])) continue; // forward padding
        for (let oo = 0; oo < Og; oo++) {
          const o = group * Og + oo;
          y.data[offset([o, ...p], ys)] += weight.data[(c * Og + oo) * kVolume + n] * v;
        }
      }
    }
  }
  if (op.bias === "channel") {
    const per = size(out);
    for (let o = 0; o < O; o++) for (let i = 0; i < per; i++) y.data[o * per + i] += (bias as Tensor).data[o];
  }
  return y;
}
