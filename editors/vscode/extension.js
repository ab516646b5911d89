// The VS Code side of cnnc's editor support: starts `cnnc lsp --stdio` for .cnn files and hands
// it to vscode-languageclient, which shows its diagnostics, hovers and definitions. Everything
// the editor learns comes from the compiler; this file only finds and starts it.
//
// `cnnc.path` is the command (default `cnnc`, on PATH after `npm link` or a global install)
// or a clone's bin/cnnc.js, which runs in VS Code's own Node (as a module: no `node` on PATH
// needed).
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

/** @type {LanguageClient | undefined} */
let client;

/** @returns {import("vscode-languageclient/node").ServerOptions} */
function serverOptions() {
  const configured = vscode.workspace.getConfiguration("cnnc").get("path", "cnnc");
  if (/\.m?js$/.test(configured)) {
    // The module transport adds --stdio itself; `cnnc lsp` accepts it (and --clientProcessId).
    return { module: configured, args: ["lsp"], transport: TransportKind.stdio };
  }
  return { command: configured, args: ["lsp", "--stdio"], options: { shell: process.platform === "win32" } };
}

function newClient() {
  return new LanguageClient("cnnc", "cnnc", serverOptions(), { documentSelector: [{ language: "cnn" }], outputChannelName: "cnnc" });
}

/** @param {import("vscode").ExtensionContext} context */
async function activate(context) {
  client = newClient();
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (!e.affectsConfiguration("cnnc.path") || !client) return;
      await client.stop();
      client = newClient();
      await client.start();
    }),
  );
  try {
    await client.start();
  } catch (e) {
    void vscode.window.showErrorMessage(
      `cnnc: could not start \`cnnc lsp\` (${e instanceof Error ? e.message : String(e)}). Put cnnc on PATH (npm link in a clone) or set "cnnc.path".`,
    );
  }
}

async function deactivate() {
  if (client) await client.stop();
}

module.exports = { activate, deactivate };
