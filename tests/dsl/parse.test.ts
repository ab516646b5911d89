// Valid programs: no diagnostics, and the AST has the expected shape (printed compactly by
// show(): pipes and operators in parentheses, named arguments as `name=value`) and spans.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { badSpans, block, network, parseOk, parseSource, show, showStmt } from "./helpers.js";

const LENET = `// examples/lenet.cnn
network lenet(image: f32[1, 28, 28]) -> probs {      // [channels, height, width]; batch implicit
  c1 = image |> conv1: conv(6, 5x5, pad: same) |> relu |> maxpool(2x2, stride: 2)
  c2 = c1 |> conv2: conv(16, 5x5) |> relu |> maxpool(2x2, stride: 2)
  probs = c2 |> flatten |> fc1: dense(120) |> relu |> fc2: dense(84) |> relu
             |> fc3: dense(10) |> softmax
}
`;

const LABELER = `network labeler(image: f32[3, H, W]) -> y {
  y0 = image |> u: conv(16, 3x3, pad: same) |> relu |> v: conv(4, 1x1) |> softmax
  y = repeat 3 from y0 as prev {
    (image |> u) + (prev |> w: conv(16, 3x3, pad: same)) |> relu |> v |> softmax
  }
}
`;

const RESIDUAL = `block residual(x, c) {
  y = x |> conv(c, 3x3, pad: same) |> relu |> conv(c, 3x3, pad: same)
  return relu(x + y)
}
`;

/** The body of a one-network file, one printed statement per entry. */
function body(stmts: string, header = "network n(x: f32[1, 8, 8]) -> y"): string[] {
  return network(parseOk(`${header} {\n${stmts}\n}\n`)).body.map(showStmt);
}

describe("parsing DSL.md's examples", () => {
  it("lenet: header, labels, chains continued on the next line", () => {
    const p = parseOk(LENET);
    const n = network(p);
    expect(n.name.name).toBe("lenet");
    expect(n.params.map((q) => [q.name.name, q.type.dtype.name, q.type.dims.map((d) => (d.kind === "number" ? d.value : d.name))])).toEqual([
      ["image", "f32", [1, 28, 28]],
    ]);
    expect(n.outputs.map((o) => o.name)).toEqual(["probs"]);
    expect(n.body.map(showStmt)).toEqual([
      "c1 = (((image |> conv1:conv(6, 5x5, pad=same)) |> relu) |> maxpool(2x2, stride=2))",
      "c2 = (((c1 |> conv2:conv(16, 5x5)) |> relu) |> maxpool(2x2, stride=2))",
      "probs = (((((((c2 |> flatten) |> fc1:dense(120)) |> relu) |> fc2:dense(84)) |> relu) |> fc3:dense(10)) |> softmax)",
    ]);
  });

  it("lenet: a stage without parentheses is a name; a labelled call knows its label and parentheses", () => {
    const s = network(parseOk(LENET)).body[0];
    if (s.kind !== "assign" || s.value.kind !== "pipe") throw new Error("shape");
    expect(s.value.stage.kind).toBe("call");
    const relu = s.value.input;
    if (relu.kind !== "pipe") throw new Error("shape");
    expect(relu.stage).toMatchObject({ kind: "name", name: { name: "relu" } });
    const conv = relu.input;
    if (conv.kind !== "pipe" || conv.stage.kind !== "call") throw new Error("shape");
    expect(conv.stage).toMatchObject({ callee: { name: "conv" }, label: { name: "conv1" }, hasParens: true });
    expect(conv.stage.args[1].value).toMatchObject({ kind: "size", dims: [5, 5] });
    expect(conv.stage.args[0].value).toMatchObject({ kind: "number", value: 6, isInteger: true });
  });

  it("labeler: symbolic dims and repeat with a parenthesised sum piped on", () => {
    const n = network(parseOk(LABELER));
    expect(n.params[0].type.dims).toMatchObject([
      { kind: "number", value: 3 },
      { kind: "symbol", name: "H" },
      { kind: "symbol", name: "W" },
    ]);
    expect(n.body.map(showStmt)).toEqual([
      "y0 = ((((image |> u:conv(16, 3x3, pad=same)) |> relu) |> v:conv(4, 1x1)) |> softmax)",
      "y = repeat(3, y0, prev, { (((((image |> u) + (prev |> w:conv(16, 3x3, pad=same))) |> relu) |> v) |> softmax) })",
    ]);
  });

  it("- and / bind like + and *, left to right; // is still a comment", () => {
    const n = network(parseOk("network n(x: f32[1]) -> y {\n  y = x - a / b * c - -d + e // f\n}\n"));
    expect(n.body.map(showStmt)).toEqual(["y = (((x - ((a / b) * c)) - -d) + e)"]);
  });

  it("residual block: parameters, statements, return", () => {
    const b = block(parseOk(RESIDUAL));
    expect(b.name.name).toBe("residual");
    expect(b.params.map((q) => q.name)).toEqual(["x", "c"]);
    expect(b.body.map(showStmt)).toEqual(["y = (((x |> conv(c, 3x3, pad=same)) |> relu) |> conv(c, 3x3, pad=same))"]);
    expect(show(b.result)).toBe("relu((x + y))");
  });

  it("blocks and networks keep their source order", () => {
    const p = parseOk(`${RESIDUAL}${LENET}block stem(x) { return x |> relu }\n`);
    expect(p.items.map((i) => `${i.kind} ${i.name.name}`)).toEqual(["block residual", "network lenet", "block stem"]);
  });

  it("every example in examples/ parses cleanly", () => {
    for (const f of readdirSync("examples").filter((f) => f.endsWith(".cnn"))) {
      expect(parseSource(readFileSync(`examples/${f}`, "utf8"), f).headlines, f).toEqual([]);
    }
  });
});

describe("parsing the rest of the language", () => {
  it("several inputs and outputs", () => {
    const n = network(parseOk("network m(a: f32[1, 4, 4], b: f32[2, 4, 4]) -> (y, z) {\n  y = a\n  z = b\n}"));
    expect(n.params.map((q) => q.name.name)).toEqual(["a", "b"]);
    expect(n.outputs.map((o) => o.name)).toEqual(["y", "z"]);
  });

  it("no inputs, an empty body", () => {
    const n = network(parseOk("network m() -> y {}"));
    expect(n.params).toEqual([]);
    expect(n.body).toEqual([]);
  });

  it("inline weight literals, nested lists, negative numbers and a trailing comma", () => {
    expect(body("y = x |> conv(1, 2x2, weight: [[[[1, -1], [0, 0]]]], bias: none)")).toEqual([
      "y = (x |> conv(1, 2x2, weight=[[[[1, -1], [0, 0]]]], bias=none))",
    ]);
    expect(body("y = x |> conv(1, 1x3, weight: [\n  [1, 2, 3],\n])")).toEqual(["y = (x |> conv(1, 1x3, weight=[[1, 2, 3]]))"]);
    expect(body("y = reshape(x, [])")).toEqual(["y = reshape(x, [])"]);
  });

  it("named arguments whose values are calls, and per-axis padding", () => {
    expect(
      body(
        [
          "a = x |> conv(1, 5x5, weight: gaussian(sigma: 1.5))",
          "b = x |> conv(4, 3x3, init: he(seed: 1))",
          "c = x |> conv(4, 3x3, init: uniform(-0.1, 0.1))",
          "y = x |> conv(4, 3x3, pad: [[1, 2], [0, 1]], flip: true, groups: 1)",
        ].join("\n"),
      ),
    ).toEqual([
      "a = (x |> conv(1, 5x5, weight=gaussian(sigma=1.5)))",
      "b = (x |> conv(4, 3x3, init=he(seed=1)))",
      "c = (x |> conv(4, 3x3, init=uniform(-0.1, 0.1)))",
      "y = (x |> conv(4, 3x3, pad=[[1, 2], [0, 1]], flip=true, groups=1))",
    ]);
  });

  it("a named argument may be followed by positional ones (the compiler checks the order)", () => {
    expect(body("y = f(a: 1, 2)")).toEqual(["y = f(a=1, 2)"]);
  });

  it("a labelled stage without parentheses", () => {
    const s = network(parseOk("network n(x: f32[1, 4, 4]) -> y { y = x |> k: relu }")).body[0];
    if (s.kind !== "assign" || s.value.kind !== "pipe") throw new Error("shape");
    expect(s.value.stage).toMatchObject({ kind: "call", callee: { name: "relu" }, label: { name: "k" }, hasParens: false, args: [] });
  });

  it("numbers: integers, decimals, exponents, leading dot; sizes of one to three axes", () => {
    const s = network(parseOk("network n(x: f32[1, 4, 4]) -> y { y = f(6, 1.5, 1e-3, .5, 2E3, 5x5, 3x3x3, 9) }")).body[0];
    if (s.kind !== "assign" || s.value.kind !== "call") throw new Error("shape");
    expect(s.value.args.map((a) => a.value)).toMatchObject([
      { kind: "number", value: 6, isInteger: true },
      { kind: "number", value: 1.5, isInteger: false },
      { kind: "number", value: 0.001, isInteger: false },
      { kind: "number", value: 0.5, isInteger: false },
      { kind: "number", value: 2000, isInteger: false },
      { kind: "size", dims: [5, 5] },
      { kind: "size", dims: [3, 3, 3] },
      { kind: "number", value: 9, isInteger: true },
    ]);
  });

  it("strings with escapes, and the weights statement", () => {
    expect(body('weights "w.safetensors"\ny = f("a\\"b\\\\c\\nd")')).toEqual(['weights "w.safetensors"', 'y = f("a\\"b\\\\c\\nd")']);
    const w = network(parseOk('network n(x: f32[1]) -> y { weights "dir/w.safetensors" }')).body[0];
    expect(w).toMatchObject({ kind: "weights", path: { kind: "string", value: "dir/w.safetensors" } });
  });

  it("precedence: * over +, + over |>; pipes and sums associate to the left", () => {
    expect(body("y = a + b * c |> relu")).toEqual(["y = ((a + (b * c)) |> relu)"]);
    expect(body("y = a * b + c")).toEqual(["y = ((a * b) + c)"]);
    expect(body("y = a + b + c")).toEqual(["y = ((a + b) + c)"]);
    expect(body("y = x |> f |> g")).toEqual(["y = ((x |> f) |> g)"]);
    expect(body("y = -a * b")).toEqual(["y = (-a * b)"]);
    expect(body("y = (a |> f) * (b |> g) |> h")).toEqual(["y = (((a |> f) * (b |> g)) |> h)"]);
    expect(body("y = concat(a, b |> relu, relu(x + y))")).toEqual(["y = concat(a, (b |> relu), relu((x + y)))"]);
  });

  it("comments of both kinds, semicolons, and a statement spread over lines", () => {
    const src = [
      "/* a block comment",
      "   over two lines */ network n(x: f32[1, 4, 4]) -> y { // trailing",
      "  a = x /* inline */ |> relu; b = a;",
      "  y = b",
      "    |> relu // more",
      "}",
    ].join("\n");
    expect(network(parseOk(src)).body.map(showStmt)).toEqual(["a = (x |> relu)", "b = a", "y = (b |> relu)"]);
  });

  it("keywords are whole words: `networks` and `repeated` are names", () => {
    expect(body("networks = x |> repeated")).toEqual(["networks = (x |> repeated)"]);
  });

  it("a repeat body with statements before its result", () => {
    expect(body("y = repeat 2 from x as p { q = p |> relu; r = q * p\n r + q }")).toEqual([
      "y = repeat(2, x, p, { q = (p |> relu); r = (q * p); (r + q) })",
    ]);
  });
});

describe("spans", () => {
  it("point at the source of every node (line:col through SourceFile.position)", () => {
    const { program, file } = parseSource(LENET);
    const at = (s: { start: number }) => {
      const p = file.position(s.start);
      return `${p.line}:${p.col}`;
    };
    const n = network(program);
    expect(at(n.span)).toBe("2:1");
    expect(file.position(n.span.end)).toEqual({ line: 7, col: 2 });
    expect(at(n.name.span)).toBe("2:9");
    expect(at(n.params[0].type.span)).toBe("2:22");
    expect(at(n.params[0].type.dims[1].span)).toBe("2:29");
    const probs = n.body[2];
    if (probs.kind !== "assign" || probs.value.kind !== "pipe") throw new Error("shape");
    expect(at(probs.span)).toBe("5:3");
    expect(file.position(probs.span.end)).toEqual({ line: 6, col: 42 });
    const fc3 = probs.value.input;
    if (fc3.kind !== "pipe" || fc3.stage.kind !== "call") throw new Error("shape");
    expect(at(fc3.stage.span)).toBe("6:17");
    expect(file.text.slice(fc3.stage.span.start, fc3.stage.span.end)).toBe("fc3: dense(10)");
    expect(at(fc3.stage.callee.span)).toBe("6:22");
  });

  it("cover operators, lists, calls and parentheses exactly", () => {
    const src = "network n(x: f32[1]) -> y { y = (a |> f) + g(b, k: [1, 2]) * -c }";
    const { program, file } = parseSource(src);
    const s = network(program).body[0];
    if (s.kind !== "assign" || s.value.kind !== "binary") throw new Error("shape");
    const text = (sp: { start: number; end: number }) => file.text.slice(sp.start, sp.end);
    expect(text(s.span)).toBe("y = (a |> f) + g(b, k: [1, 2]) * -c");
    expect(text(s.value.opSpan)).toBe("+");
    expect(text(s.value.left.span)).toBe("(a |> f)");
    const mul = s.value.right;
    if (mul.kind !== "binary" || mul.left.kind !== "call") throw new Error("shape");
    expect(text(mul.left.span)).toBe("g(b, k: [1, 2])");
    expect(text(mul.left.args[1].span)).toBe("k: [1, 2]");
    expect(text(mul.left.args[1].value.span)).toBe("[1, 2]");
    expect(text(mul.right.span)).toBe("-c");
  });

  it("are all inside the file for every example", () => {
    for (const src of [LENET, LABELER, RESIDUAL]) expect(badSpans(parseOk(src), src.length)).toEqual([]);
  });
});

describe("named constant tensors", () => {
  it("`const k = f32[..] from \"name\"` is a statement of its own, before or after others, with or without `;`", () => {
    expect(body(`const k = f32[3, 1, 1] from "pos.embed"; a = x + k\nconst m = f32[1, H, 8] from "m"\ny = a * m`)).toEqual([
      'const k = f32[3, 1, 1] from "pos.embed"',
      "a = (x + k)",
      'const m = f32[1, H, 8] from "m"',
      "y = (a * m)",
    ]);
  });
  it("`const` is a keyword: not a name", () => {
    const r = parseSource("network n(x: f32[1, 8, 8]) -> y {\n  const = x\n  y = x\n}\n");
    expect(r.log.hasErrors).toBe(true);
  });
});
