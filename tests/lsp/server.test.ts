// `cnnc lsp --stdio` driven over its stdin and stdout as an editor drives it (built compiler:
// npm test builds first). Diagnostics are compared with what `cnnc check` prints for the same
// file (message and line:col), shapes with the compiler's own graph (analyse()), so nothing
// here is a hand-typed expectation beyond positions in the test's own source text.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyse } from "../../compiler/analyse.js";
import * as D from "../../compiler/ir/dim.js";
import { printField, receptiveFields } from "../../compiler/receptive-field.js";
import { LspClient } from "./client.js";

const root = path.resolve(__dirname, "../..");
const tmp = mkdtempSync(path.join(tmpdir(), "cnnc-lsp-"));

interface Position {
  line: number;
  character: number;
}
interface Range {
  start: Position;
  end: Position;
}
interface LspDiagnostic {
  range: Range;
  message: string;
  severity: number;
  source: string;
}
interface Published {
  uri: string;
  version?: number;
  diagnostics: LspDiagnostic[];
}
interface Hover {
  contents: { kind: string; value: string };
  range: Range;
}
interface Location {
  uri: string;
  range: Range;
}

/** The LSP position (0-based line, UTF-16 character) of the `nth` occurrence of `needle`. */
function positionOf(text: string, needle: string, nth = 0): Position {
  let at = -1;
  for (let i = 0; i <= nth; i++) {
    at = text.indexOf(needle, at + 1);
    if (at < 0) throw new Error(`'${needle}' #${nth} not in the text`);
  }
  const before = text.slice(0, at).split("\n");
  return { line: before.length - 1, character: before[before.length - 1].length };
}

/** `cnnc check` on a file: each `file:line:col: error: message` headline. */
function cliErrors(file: string): { line: number; col: number; message: string }[] {
  const r = spawnSync(process.execPath, [path.join(root, "bin/cnnc.js"), "check", file], { cwd: root, encoding: "utf8" });
  const out: { line: number; col: number; message: string }[] = [];
  for (const l of r.stderr.split("\n")) {
    const m = /^(.*):(\d+):(\d+): error: (.*)$/.exec(l);
    if (m && m[1] === file) out.push({ line: Number(m[2]), col: Number(m[3]), message: m[4] });
  }
  return out;
}

function save(name: string, text: string): { file: string; uri: string } {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  return { file, uri: pathToFileURL(file).href };
}

const diagnosticsOf = (c: LspClient, uri: string, version: number) =>
  c.waitFor<Published>("textDocument/publishDiagnostics", (p) => p.uri === uri && p.version === version);

describe("cnnc lsp --stdio", () => {
  let c: LspClient;
  beforeAll(async () => {
    c = new LspClient();
    const init = await c.initialize();
    expect(init.capabilities).toMatchObject({ hoverProvider: true, definitionProvider: true });
  });
  afterAll(() => {
    if (c.child.exitCode === null) c.child.kill();
  });

  it("reports a semantic error with the CLI's message at the CLI's place, then nothing once fixed", async () => {
    // A non-ASCII comment before the mistake on its line: columns are UTF-16 code units.
    const bad = "network n(x: f32[1, 8, 8]) -> y {\n  /* é😀 */ y = x |> conv(4, 3x3) |> rleu\n}\n";
    const { file, uri } = save("bad.cnn", bad);
    c.notify("textDocument/didOpen", { textDocument: { uri, languageId: "cnn", version: 1, text: bad } });
    const published = await diagnosticsOf(c, uri, 1);
    const cli = cliErrors(file);
    expect(cli.length).toBe(1);
    expect(published.diagnostics.length).toBe(1);
    const d = published.diagnostics[0];
    expect(d.message).toBe(cli[0].message);
    expect(d.range.start).toEqual({ line: cli[0].line - 1, character: cli[0].col - 1 });
    expect(d.range.start).toEqual(positionOf(bad, "rleu"));
    expect(d.range.end).toEqual({ line: d.range.start.line, character: d.range.start.character + "rleu".length });
    expect(d.severity).toBe(1);

    // The fix, as an incremental edit of the four characters.
    c.notify("textDocument/didChange", {
      textDocument: { uri, version: 2 },
      contentChanges: [{ range: d.range, text: "relu" }],
    });
    expect((await diagnosticsOf(c, uri, 2)).diagnostics).toEqual([]);
  });

  it("reports syntax errors as the CLI does, and a change that breaks the file again", async () => {
    const good = readFileSync(path.join(root, "examples/lenet.cnn"), "utf8");
    const { file, uri } = save("lenet-edit.cnn", good);
    c.notify("textDocument/didOpen", { textDocument: { uri, languageId: "cnn", version: 1, text: good } });
    expect((await diagnosticsOf(c, uri, 1)).diagnostics).toEqual([]);
    const broken = good.replace("conv(6, 5x5, pad: same)", "conv(6, 5x5, pad: same");
    writeFileSync(file, broken);
    // Whole-document change; two quick edits: only the last version is checked (debounced).
    c.notify("textDocument/didChange", { textDocument: { uri, version: 2 }, contentChanges: [{ text: good.replace("relu", "rel") }] });
    c.notify("textDocument/didChange", { textDocument: { uri, version: 3 }, contentChanges: [{ text: broken }] });
    const published = await diagnosticsOf(c, uri, 3);
    const cli = cliErrors(file);
    expect(cli.length).toBeGreaterThan(0);
    expect(published.diagnostics.map((d) => ({ line: d.range.start.line + 1, col: d.range.start.character + 1, message: d.message }))).toEqual(cli);
    expect(c.notifications.some((n) => (n.params as Published).uri === uri && (n.params as Published).version === 2)).toBe(false);
  });

  it("checks every network of a file with several, and a weights file that is missing", async () => {
    const text = [
      "network a(x: f32[1, 8, 8]) -> y {",
      "  y = x |> conv(4, 3x3) |> nope",
      "}",
      "network b(x: f32[1, 8, 8]) -> y {",
      '  weights "missing.safetensors"',
      "  y = x |> conv(4, 3x3)",
      "}",
      "",
    ].join("\n");
    const { file, uri } = save("two.cnn", text);
    c.notify("textDocument/didOpen", { textDocument: { uri, languageId: "cnn", version: 1, text } });
    const ds = (await diagnosticsOf(c, uri, 1)).diagnostics;
    // What `cnnc check --network NAME` says, for each network.
    const perNetwork = ["a", "b"].flatMap((n) => analyse(text, { fileName: file, network: n }).log.items.map((d) => d.message));
    expect(ds.map((d) => d.message)).toEqual(perNetwork);
    expect(ds.length).toBe(2);
    expect(ds[0].range.start).toEqual(positionOf(text, "nope"));
    expect(ds[1].range.start).toEqual(positionOf(text, '"missing.safetensors"'));
  });

  it("hovers a value with its shape, a layer with its op and parameters, symbolic sizes as expressions", async () => {
    const text = readFileSync(path.join(root, "examples/residual.cnn"), "utf8");
    const { file, uri } = save("residual.cnn", text);
    c.notify("textDocument/didOpen", { textDocument: { uri, languageId: "cnn", version: 1, text } });
    await diagnosticsOf(c, uri, 1);
    const g = analyse(text, { fileName: file }).graph!;
    const hover = (needle: string, nth = 0) =>
      c.request<Hover | null>("textDocument/hover", { textDocument: { uri }, position: positionOf(text, needle, nth) });

    // `body` where it is used: the value the batch norm makes, [16, floor(H / 2), floor(W / 2)].
    const body = await hover("body", 1);
    const bn = g.nodes.find((n) => n.layer === "bn")!;
    expect(body!.contents.value).toContain(`f32${D.printShape(g.values[bn.output].shape)}`);
    expect(D.printShape(g.values[bn.output].shape)).toContain("H");
    // The layer that made it and its parameters (batch norm: four vectors of the channels).
    const bnParams = Object.values(bn.weights).reduce((s, w) => s + (w ? w.data.length : 0), 0);
    expect(body!.contents.value).toContain(`layer \`bn\`, ${bnParams} parameters`);
    expect(body!.range.start).toEqual(positionOf(text, "body", 1));
    // Its receptive field, as compiler/receptive-field.ts computes it (size and jump in input pixels).
    const fields = receptiveFields(g);
    expect(body!.contents.value).toContain(`receptive field: ${printField(fields[bn.output])} input pixels`);
    expect(printField(fields[bn.output])).toMatch(/^\d+x\d+ \(jump 2x2\)$/);

    // The label `fc`: its op and its parameter count, from the graph's weights.
    const fc = await hover("fc:");
    const node = g.nodes.find((n) => n.layer === "fc")!;
    const params = Object.values(node.weights).reduce((s, w) => s + (w ? w.data.length : 0), 0);
    expect(fc!.contents.value).toContain("dense(10)");
    expect(fc!.contents.value).toContain(`${params.toLocaleString("en-US")} parameters`);
    expect(fc!.contents.value).toContain(`f32${D.printShape(g.values[node.output].shape)}`);

    // Inside the block, used twice: one line per use.
    const y = await hover("y =");
    expect(y!.contents.value).toContain("2 uses");
    expect(await hover("//")).toBeNull();
  });

  it("goes to the definition of a value, a label applied again, a block, an output", async () => {
    const text = readFileSync(path.join(root, "examples/labeler.cnn"), "utf8") + readFileSync(path.join(root, "examples/residual.cnn"), "utf8");
    const { uri } = save("defs.cnn", text);
    c.notify("textDocument/didOpen", { textDocument: { uri, languageId: "cnn", version: 1, text } });
    await diagnosticsOf(c, uri, 1);
    const definition = (needle: string, nth = 0) =>
      c.request<Location | null>("textDocument/definition", { textDocument: { uri }, position: positionOf(text, needle, nth) });
    /** The location of the first `length` characters of the `nth` occurrence of `needle`. */
    const at = (needle: string, nth = 0, length = needle.length) => {
      const start = positionOf(text, needle, nth);
      return { uri, range: { start, end: { line: start.line, character: start.character + length } } };
    };
    expect(await definition("y0", 1)).toEqual(at("y0"));
    // `image |> u` inside the repeat: the layer labelled `u:` on the line before.
    const uUse = positionOf(text, "|> u)");
    const u = await c.request<Location | null>("textDocument/definition", { textDocument: { uri }, position: { line: uUse.line, character: uUse.character + 3 } });
    expect(u).toEqual(at("u: conv", 0, 1));
    expect(await definition("prev |> w")).toEqual(at("prev {", 0, "prev".length));
    expect(await definition("residual(16)")).toEqual(at("residual(x", 0, "residual".length));
    // The output in `-> labels {`: its statement.
    expect(await definition("labels {")).toEqual(at("labels =", 0, "labels".length));
    expect(await definition("relu")).toBeNull();
  });

  it("outlines networks and blocks with their inputs, values, labels and steps", async () => {
    const text = readFileSync(path.join(root, "examples/labeler.cnn"), "utf8") + readFileSync(path.join(root, "examples/residual.cnn"), "utf8");
    const { uri } = save("outline.cnn", text);
    c.notify("textDocument/didOpen", { textDocument: { uri, languageId: "cnn", version: 1, text } });
    interface Symbol {
      name: string;
      range: Range;
      selectionRange: Range;
      children?: Symbol[];
    }
    const symbols = await c.request<Symbol[]>("textDocument/documentSymbol", { textDocument: { uri } });
    const names = (ss: Symbol[] | undefined): unknown[] => (ss ?? []).map((s) => (s.children?.length ? [s.name, names(s.children)] : s.name));
    expect(names(symbols)).toEqual([
      ["labeler", ["image", "y0", "u", "v", "labels", "prev", "w"]],
      ["residual", ["x", "c", "y"]],
      ["resnet", ["image", "stem", "body", "bn", "probs", "fc"]],
    ]);
    // Each name is selected where it is bound, inside its symbol's range.
    const lines = text.split("\n");
    for (const s of symbols.flatMap((x) => [x, ...(x.children ?? [])])) {
      const sel = s.selectionRange;
      expect(lines[sel.start.line].slice(sel.start.character, sel.end.character)).toBe(s.name);
      const before = (a: Position, b: Position) => a.line < b.line || (a.line === b.line && a.character <= b.character);
      expect(before(s.range.start, s.selectionRange.start) && before(s.selectionRange.end, s.range.end), s.name).toBe(true);
    }
  });

  it("shuts down and exits with 0", async () => {
    expect(await c.close()).toBe(0);
    expect(c.stderr).toBe("");
  });
});

describe("cnnc lsp usage", () => {
  it("is in the help; takes the arguments VS Code's client adds; exits 1 on exit without shutdown", async () => {
    const help = spawnSync(process.execPath, [path.join(root, "bin/cnnc.js"), "--help"], { encoding: "utf8" });
    expect(help.stdout).toMatch(/\n {2}lsp +a language server for editors/);
    // vscode-languageclient runs a Node module as `MODULE ARGS --stdio --clientProcessId=PID`.
    const c = new LspClient(["lsp", "--stdio", `--clientProcessId=${process.pid}`]);
    await c.initialize();
    c.notify("exit", null);
    expect(await c.exited).toBe(1);
  });
});
