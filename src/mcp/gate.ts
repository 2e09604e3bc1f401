import type { Transport, TransportSendOptions } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { CallToolResult, JSONRPCMessage, MessageExtraInfo } from "@modelcontextprotocol/sdk/types.js";

/**
 * Whether a key of tool arguments names a PIN: one of its words (split at anything but letters
 * and digits, and where camelCase turns upper) is `pin`, or `pins`, `pincode`, `pinnumber`
 * (`pin`, `PIN`, `pin_code`, `newPin`, `EXPFLOW_PIN`, `pin-stdin`). A word that only holds the
 * letters is not one: `mapping`, `spinal_loss`, `Args/--pinned` are names of parameters and
 * metrics, and refusing them would make those runs impossible to submit or report.
 */
export function isPinKey(key: string): boolean {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/);
  return words.some((w) => /^pin(s|code|number)?$/.test(w));
}

/**
 * The paths (`pin`, `options.pin_code`, `list[2].PIN`) of every key in `value` that names a
 * PIN ({@link isPinKey}), at any depth; the values are never read. At most 10,000 nodes are visited.
 */
export function pinKeys(value: unknown, path = ""): string[] {
  const found: string[] = [];
  const stack: [unknown, string][] = [[value, path]];
  let visited = 0;
  while (stack.length > 0 && visited++ < 10_000) {
    const [node, at] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (Array.isArray(node)) {
      node.forEach((child, i) => stack.push([child, `${at}[${i}]`]));
      continue;
    }
    for (const key of Object.keys(node)) {
      const where = at === "" ? key : `${at}.${key}`;
      if (isPinKey(key)) found.push(where);
      stack.push([(node as Record<string, unknown>)[key], where]);
    }
  }
  return found.sort();
}

/** What the gate decides about a tool call before the server sees it: go on, or answer this result. */
export type GateDecision = { readonly pass: true } | { readonly pass: false; readonly result: CallToolResult };

/** Inspects a `tools/call` (tool name and raw arguments, unvalidated). */
export type ToolCallGate = (name: string, args: unknown) => Promise<GateDecision>;

function isToolCall(m: JSONRPCMessage): m is JSONRPCMessage & { id: string | number; method: "tools/call"; params: { name?: unknown; arguments?: unknown } } {
  return "method" in m && m.method === "tools/call" && "id" in m && typeof m.params === "object" && m.params !== null;
}

/**
 * A transport that puts a gate in front of every `tools/call`, before the server validates the
 * arguments against the tool's schema: a call the gate refuses is answered with the gate's tool
 * result and never reaches a tool. Everything else passes through, in order: calls wait for the
 * gate one after the other, so a refused call cannot overtake an earlier message.
 */
export class GatedTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;
  readonly #inner: Transport;
  readonly #gate: ToolCallGate;
  #queue: Promise<void> = Promise.resolve();

  constructor(inner: Transport, gate: ToolCallGate) {
    this.#inner = inner;
    this.#gate = gate;
    inner.onclose = () => this.onclose?.();
    inner.onerror = (e) => this.onerror?.(e);
    inner.onmessage = (message, extra) => {
      this.#queue = this.#queue.then(() => this.#receive(message, extra)).catch((e: unknown) => this.onerror?.(e instanceof Error ? e : new Error(String(e))));
    };
  }

  async #receive(message: JSONRPCMessage, extra: MessageExtraInfo | undefined): Promise<void> {
    if (isToolCall(message)) {
      const decision = await this.#gate(String(message.params.name), message.params.arguments);
      if (!decision.pass) {
        await this.#inner.send({ jsonrpc: "2.0", id: message.id, result: decision.result });
        return;
      }
    }
    this.onmessage?.(message, extra);
  }

  get sessionId(): string | undefined {
    return this.#inner.sessionId;
  }

  setProtocolVersion(version: string): void {
    this.#inner.setProtocolVersion?.(version);
  }

  start(): Promise<void> {
    return this.#inner.start();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.#inner.send(message, options);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
