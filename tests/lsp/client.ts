// A tiny LSP client for the tests: spawns `node bin/cnnc.js lsp --stdio` and speaks JSON-RPC
// with Content-Length framing by hand (so the test checks the wire format, not a library's
// view of it). Requests resolve with their result; notifications are kept in arrival order and
// can be awaited by method and predicate.

import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import * as path from "node:path";

const root = path.resolve(__dirname, "../..");

export interface Message {
  readonly jsonrpc: "2.0";
  readonly id?: number;
  readonly method?: string;
  readonly params?: unknown;
  readonly result?: unknown;
  readonly error?: { code: number; message: string };
}

interface Waiter {
  readonly method: string;
  readonly accept: (params: unknown) => boolean;
  readonly resolve: (params: unknown) => void;
}

export class LspClient {
  readonly child: ChildProcessWithoutNullStreams;
  readonly notifications: Message[] = [];
  stderr = "";
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (m: Message) => void }>();
  private waiters: Waiter[] = [];
  readonly exited: Promise<number | null>;

  constructor(args: string[] = ["lsp", "--stdio"]) {
    this.child = spawn(process.execPath, [path.join(root, "bin/cnnc.js"), ...args], { cwd: root });
    this.child.stdout.on("data", (chunk: Buffer) => this.receive(chunk));
    this.child.stderr.on("data", (chunk: Buffer) => (this.stderr += chunk.toString("utf8")));
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf("\r\n\r\n");
      if (headerEnd < 0) return;
      const header = this.buffer.subarray(0, headerEnd).toString("ascii");
      const m = /Content-Length: (\d+)/i.exec(header);
      if (!m) throw new Error(`no Content-Length in ${JSON.stringify(header)}`);
      const length = Number(m[1]);
      if (this.buffer.length < headerEnd + 4 + length) return;
      const body = this.buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString("utf8");
      this.buffer = this.buffer.subarray(headerEnd + 4 + length);
      this.dispatch(JSON.parse(body) as Message);
    }
  }

  private dispatch(msg: Message): void {
    if (msg.id !== undefined && msg.method === undefined) {
      this.pending.get(msg.id)?.resolve(msg);
      this.pending.delete(msg.id);
      return;
    }
    if (msg.id !== undefined && msg.method !== undefined) {
      // A request from the server (e.g. workspace/configuration): answer with nothing.
      this.send({ jsonrpc: "2.0", id: msg.id, result: null });
      return;
    }
    this.notifications.push(msg);
    const w = this.waiters.find((x) => x.method === msg.method && x.accept(msg.params));
    if (w) {
      this.waiters = this.waiters.filter((x) => x !== w);
      w.resolve(msg.params);
    }
  }

  /** Writes one framed message (the length counts bytes of UTF-8, not characters). */
  send(msg: Message): void {
    const body = Buffer.from(JSON.stringify(msg), "utf8");
    this.child.stdin.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, "ascii"), body]));
  }

  async request<T>(method: string, params: unknown): Promise<T> {
    const id = this.nextId++;
    const reply = new Promise<Message>((resolve) => this.pending.set(id, { resolve }));
    this.send({ jsonrpc: "2.0", id, method, params });
    const m = await reply;
    if (m.error) throw new Error(`${method}: ${m.error.message}`);
    return m.result as T;
  }

  notify(method: string, params: unknown): void {
    this.send({ jsonrpc: "2.0", method, params });
  }

  /** The next notification of `method` (already received or still to come) that `accept` takes. */
  waitFor<T>(method: string, accept: (params: T) => boolean = () => true): Promise<T> {
    const seen = this.notifications.find((n) => n.method === method && accept(n.params as T));
    if (seen) {
      this.notifications.splice(this.notifications.indexOf(seen), 1);
      return Promise.resolve(seen.params as T);
    }
    return new Promise((resolve) => this.waiters.push({ method, accept: (p) => accept(p as T), resolve: (p) => resolve(p as T) }));
  }

  async initialize(): Promise<{ capabilities: Record<string, unknown> }> {
    const r = await this.request<{ capabilities: Record<string, unknown> }>("initialize", { processId: process.pid, rootUri: null, capabilities: {} });
    this.notify("initialized", {});
    return r;
  }

  /** shutdown, then exit: resolves with the server's exit code. */
  async close(): Promise<number | null> {
    await this.request("shutdown", null);
    this.notify("exit", null);
    return this.exited;
  }
}
