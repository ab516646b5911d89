// `cnnc lsp --stdio`: a language server for .cnn files over stdin and stdout (JSON-RPC with
// Content-Length framing, by vscode-languageserver). It reports the compiler's diagnostics
// (what `cnnc check` reports, in the same words), answers hover with shapes, parameter counts
// and receptive fields, goes to definitions of names, labels, blocks and weights files, and
// outlines the document (its networks and blocks, their inputs, values, labels and steps).
//
// Responsiveness: a document is checked after typing pauses (DEBOUNCE_MS since the last
// change), never per keystroke; a check is the front of the compiler only (parse, lower, bind
// weights), with weights files read through a cache. Hover and definition on a document that
// changed since its last check check it at once (their answers must match the text shown).

import { fileURLToPath } from "node:url";
import { createConnection, type Connection, StreamMessageReader, StreamMessageWriter, TextDocuments, TextDocumentSyncKind } from "vscode-languageserver/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import { type Analysis, analyseText } from "./analysis.js";
import { definitionAt } from "./definition.js";
import { spanRange, toLsp } from "./diagnostics.js";
import { hoverContent } from "./hover.js";
import { outline } from "./outline.js";
import { SourceFile } from "../source.js";

/** How long typing must pause before a document is checked again. */
export const DEBOUNCE_MS = 200;

/** The document's path on disk, or undefined for an unsaved buffer (`untitled:`). */
function pathOf(uri: string): string | undefined {
  if (!uri.startsWith("file:")) return undefined;
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}

interface Checked {
  readonly version: number;
  readonly analysis: Analysis;
}

/** Serves one client on the given streams; resolves when the connection closes. */
export function startServer(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<void> {
  const connection: Connection = createConnection(new StreamMessageReader(input), new StreamMessageWriter(output));
  const documents = new TextDocuments(TextDocument);
  const checked = new Map<string, Checked>();
  const timers = new Map<string, NodeJS.Timeout>();

  const check = (doc: TextDocument): Analysis => {
    const hit = checked.get(doc.uri);
    if (hit && hit.version === doc.version) return hit.analysis;
    clearTimeout(timers.get(doc.uri));
    timers.delete(doc.uri);
    let analysis: Analysis;
    try {
      const onDisk = pathOf(doc.uri);
      analysis = analyseText(doc.getText(), onDisk ?? doc.uri, onDisk !== undefined);
    } catch (e) {
      // A compiler bug must not take the server down: say it where the user looks.
      connection.console.error(`cnnc: internal error while checking ${doc.uri}: ${(e as Error).stack ?? String(e)}`);
      analysis = { file: new SourceFile(doc.uri, doc.getText()), diagnostics: [], graphs: [] };
    }
    checked.set(doc.uri, { version: doc.version, analysis });
    void connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics: analysis.diagnostics.map((d) => toLsp(doc, d)) });
    return analysis;
  };

  const schedule = (doc: TextDocument, delay: number) => {
    clearTimeout(timers.get(doc.uri));
    timers.set(
      doc.uri,
      setTimeout(() => {
        timers.delete(doc.uri);
        const current = documents.get(doc.uri);
        if (current) check(current);
      }, delay),
    );
  };

  connection.onInitialize(() => ({
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      hoverProvider: true,
      definitionProvider: true,
      documentSymbolProvider: true,
    },
    serverInfo: { name: "cnnc" },
  }));

  // Fired on open too: a document never checked is checked at once, later edits after a pause.
  documents.onDidChangeContent((e) => schedule(e.document, checked.has(e.document.uri) ? DEBOUNCE_MS : 0));
  documents.onDidClose((e) => {
    clearTimeout(timers.get(e.document.uri));
    timers.delete(e.document.uri);
    checked.delete(e.document.uri);
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
  });

  connection.onHover((params) => {
    const doc = documents.get(params.textDocument.uri);
    if (!doc) return null;
    const h = hoverContent(check(doc), doc.offsetAt(params.position));
    return h ? { contents: h.contents, range: spanRange(doc, h.span) } : null;
  });

  connection.onDefinition((params) => {
    const doc = documents.get(params.textDocument.uri);
    if (!doc) return null;
    const a = check(doc);
    if (!a.symbols) return null;
    const t = definitionAt(a.symbols, doc.offsetAt(params.position), pathOf(doc.uri));
    if (!t) return null;
    if (t.kind === "file") return { uri: t.uri, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } };
    return { uri: doc.uri, range: spanRange(doc, t.span) };
  });

  connection.onDocumentSymbol((params) => {
    const doc = documents.get(params.textDocument.uri);
    const symbols = doc ? check(doc).symbols : undefined;
    return doc && symbols ? outline(doc, symbols) : null;
  });

  connection.onShutdown(() => {
    for (const t of timers.values()) clearTimeout(t);
    timers.clear();
  });

  documents.listen(connection);
  return new Promise((resolve) => {
    connection.onExit(() => resolve());
    input.on("end", () => resolve());
    connection.listen();
  });
}
