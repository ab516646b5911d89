// Symbolic sizes. A spatial size may be a symbol (`H`) bound when the network runs; every
// size derived from it (after a strided convolution, a pool, a padding) is a small
// expression tree over symbols and integers. The same JSON-compatible tree is evaluated by
// the compiler (shape inference, memory planning), by the generated WebAssembly (emitted as
// i32 arithmetic) and by the bundle's runtime, so it lives here, where the runtime can use it
// without importing the compiler.

export type Dim = number | DimExpr;

export type DimExpr =
  | { readonly op: "sym"; readonly name: string }
  | {
      readonly op: "add" | "sub" | "mul" | "floordiv" | "ceildiv" | "mod" | "max" | "min";
      readonly a: Dim;
      readonly b: Dim;
    };

export type DimEnv = Readonly<Record<string, number>>;

export function evalDim(d: Dim, env: DimEnv): number {
  if (typeof d === "number") return d;
  if (d.op === "sym") {
    const v = env[d.name];
    if (v === undefined) throw new Error(`size symbol ${d.name} is not bound`);
    return v;
  }
  const a = evalDim(d.a, env);
  const b = evalDim(d.b, env);
  switch (d.op) {
    case "add":
      return a + b;
    case "sub":
      return a - b;
    case "mul":
      return a * b;
    case "floordiv":
      return Math.floor(a / b);
    case "ceildiv":
      return Math.ceil(a / b);
    case "mod":
      return ((a % b) + b) % b;
    case "max":
      return Math.max(a, b);
    case "min":
      return Math.min(a, b);
  }
}

export function evalDims(ds: readonly Dim[], env: DimEnv): number[] {
  return ds.map((d) => evalDim(d, env));
}
