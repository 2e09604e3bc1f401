/**
 * A fake ClearML API server for tests and benchmarks: real HTTP on 127.0.0.1, the real envelope,
 * authentication, filters, paging caps and scrolls, the task state machine, queues, workers,
 * events, an injected clock and a built-in agent that really runs tasks, and a list of the
 * client mistakes it saw (`violations`) that the real server would let pass silently.
 * See README.md in this folder.
 */
import { createHmac, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Ajv, type ValidateFunction } from "ajv";
import { FakeAgent, type AgentOptions } from "./agent.js";
import { FakeBackend, HIDDEN_QUEUE_TAGS } from "./backend.js";
import { ApiError, apiError } from "./errors.js";
import { parseListFilter, matchesParsedFilter, type ListFilter } from "./list-filter.js";
import type { FakeClock, FakeIdentity, FakeProject, FakeQueue, FakeQueueInput, FakeScalarEvent, FakeTask, FakeWorker } from "./model.js";
import { ENDPOINTS, PROJECT_FIELDS, QUEUE_FIELDS, TASK_FIELDS, TASK_STATUSES, type EndpointSpec } from "./schemas.js";
import { fakeId, md5 } from "./tasks.js";
import { ajvMessage, compareVersions, dropUnknownKeys, readBody as readRequestBody } from "./validate.js";

export type { AgentOptions, AgentRun, StopReason } from "./agent.js";
export { FakeAgent } from "./agent.js";
export type { FakeClock, FakeConfigurationItem, FakeIdentity, FakeMetricEntry, FakeParam, FakeProject, FakeQueue, FakeQueueEntry, FakeQueueInput, FakeScalarEvent, FakeScript, FakeTask, FakeWorker } from "./model.js";
export { STATE_MACHINE, TASK_UPDATE_TIMEOUT_SEC, WATCHDOG_THRESHOLD_SEC } from "./backend.js";
export { matchesListFilter } from "./list-filter.js";

/** The access key the fake accepts unless `accessKey` is given. */
export const FAKE_ACCESS_KEY = "FAKEACCESSKEY7Q2WZ9XK";
/** The secret key the fake accepts unless `secretKey` is given. It holds the characters real secrets hold (`#`, `$`, `//`, `!`, `&`, `(`) so encoding and redaction get exercised. */
export const FAKE_SECRET_KEY = "fake-s3cr#t$with//and!&(parts-0123456789";
/** The API version the fake announces unless `apiVersion` is given. */
export const DEFAULT_API_VERSION = "2.34";
/** The most items any list call returns, whatever `page_size` or `size` ask for. */
export const MAX_PAGE_SIZE = 500;
/** How long scroll state lives on the server. */
export const SCROLL_TTL_MS = 10 * 60_000;
const DEFAULT_TOKEN_LIFETIME_SEC = 30 * 24 * 3600;

/**
 * Who every token stands for. A task of company `fake-company` is the caller's; a task with
 * company `""` is public (as in the real database: readable by all, writable by none).
 */
export const FAKE_IDENTITY: Readonly<FakeIdentity> = { company: "fake-company", company_name: "Fake", user: "fake-user", user_name: "Fake User" };

/** The id of the `default` queue the fake starts with (unless `defaultQueue: false`). */
export const DEFAULT_QUEUE_ID = fakeId("queue\0default");

/** What {@link FakeClearml.start} takes. Everything is optional. */
export interface FakeClearmlOptions {
  /** Initial projects (deep-copied: the fake never mutates the caller's objects). */
  projects?: FakeProject[];
  /** Initial tasks (deep-copied). Ids must be unique. */
  tasks?: FakeTask[];
  /** Queues to create at start, after the default one (by name; ids derived from the names unless given). */
  queues?: FakeQueueInput[];
  /** Whether a queue named `default` with the system tag `default` exists at start (as on a real server's first start). Default true. */
  defaultQueue?: boolean;
  /** The clock's source, epoch ms. Default `Date.now`. `fake.clock.advance(ms)` moves it further. */
  now?: () => number;
  /** Default {@link FAKE_ACCESS_KEY}. */
  accessKey?: string;
  /** Default {@link FAKE_SECRET_KEY}. */
  secretKey?: string;
  /** Milliseconds waited before every answer (the benchmark uses 20). Default 0. */
  latencyMs?: number;
  /** Newest API version served. Default {@link DEFAULT_API_VERSION} ("2.34"). */
  apiVersion?: string;
  /** Lifetime of issued tokens, in seconds; 0 issues tokens that are already expired. Default 30 days (auth.login's `expiration_sec` overrides it per token). */
  tokenLifetimeSec?: number;
  /** Port on 127.0.0.1. Default 0: an ephemeral port (tests always use that). */
  port?: number;
  /**
   * Reuse the ordered matches of a list query for its later pages while the number of tasks and
   * of events stays the same and nothing was written, as a database's index spares it the full
   * scan and sort. For the benchmark, whose tasks never change in place; tests leave it off
   * (default), since they edit `tasks` directly.
   */
  memoizeQueries?: boolean;
}

/** One request as the fake received and answered it. */
export interface RecordedRequest {
  /** `service.action` for a routed call, else `<METHOD> <path>`. */
  endpoint: string;
  /** The version in the path (`"2.23"`), or null when the path has none. */
  version: string | null;
  /** Which credentials came with it; "invalid" is a malformed Authorization header. */
  auth: "none" | "basic" | "bearer" | "invalid";
  /** The Content-Type header as sent ("" when absent). */
  contentType: string;
  /** The parsed JSON body (events.add_batch: the array of parsed lines; unparseable content stays a string), or null when empty. */
  body: unknown;
  /** The HTTP status answered; 0 when the connection was dropped. */
  status: number;
}

/** An error answer: HTTP status (= result_code), result_subcode, result_msg. */
export interface FakeError {
  status: number;
  subcode?: number;
  msg?: string;
}

interface Outcome {
  status: number;
  subcode: number;
  msg: string;
  data: unknown;
  errorData: Record<string, unknown>;
}

type Auth = { kind: "none" } | { kind: "invalid" } | { kind: "basic"; key: string; secret: string } | { kind: "bearer"; token: string };

interface Route {
  endpoint: string;
  version: string | null;
}

/** A scroll's state as the real server keeps it (in Redis): only a position; the query is re-run from each request's body. */
interface Scroll {
  position: number;
  expires: number;
}

/** How an answer is lost or garbled after the call was processed (see {@link FakeClearml.malformNext}). */
export type Malformation = "malformed" | "no-envelope" | "drop" | "502" | "hang";

/**
 * Writes the answer itself, after the call was processed: `answer` is the envelope the fake would
 * have sent, `data` its `data`. For hostile answers (redirects, endless bodies, repeated pages).
 */
export type Responder = (res: ServerResponse, answer: { text: string; data: unknown; status: number }) => void;

/** Body of the list calls after validation (tasks.get_all, projects.get_all, queues.get_all). */
interface ListQuery {
  id?: string | (string | null)[];
  name?: string;
  comment?: string;
  basename?: string;
  description?: string;
  user?: string | (string | null)[];
  project?: string | (string | null)[];
  type?: string | (string | null)[];
  tags?: string | (string | null)[];
  system_tags?: string | (string | null)[];
  status?: string | (string | null)[];
  parent?: string | (string | null)[];
  "execution.queue"?: string | (string | null)[];
  status_changed?: string | (string | null)[];
  last_update?: string | (string | null)[];
  last_change?: string | (string | null)[];
  created?: (string | number | null)[];
  started?: (string | number | null)[];
  last_iteration?: (string | number | null)[];
  only_fields?: string[];
  search_text?: string;
  _all_?: { pattern?: string; fields: string[]; datetime?: string | string[] };
  _any_?: { pattern?: string; fields: string[]; datetime?: string | string[] };
  search_hidden?: boolean;
  include_subprojects?: boolean;
  shallow_search?: boolean;
  max_task_entries?: number;
  page?: number;
  page_size?: number;
  order_by?: string[];
  scroll_id?: string | null;
  refresh_scroll?: boolean;
  size?: number;
}

/** An event of `events.add_batch` as it arrives (`allow_locked` is the request's, not stored). */
type ScalarEvent = FakeScalarEvent & { allow_locked?: boolean };

type Doc = Record<string, unknown>;

/** Endpoints that only read: they never invalidate the memoized list queries. */
/** The iteration of a single-value scalar (event_common.py): never part of a histogram. */
const SINGLE_SCALAR_ITERATION = -(2 ** 31);
/** EventMetrics.MAX_SAMPLE_BUCKETS and MAX_AGGS_ELEMENTS_COUNT: the buckets and variants of one aggregation. */
const MAX_SAMPLE_BUCKETS = 6000;
const MAX_AGGS_ELEMENTS_COUNT = 50;
/** EventSettings.max_es_buckets: 80% (dynamic_metrics_count_threshold) of Elasticsearch's 10,000. */
const MAX_ES_BUCKETS = 8000;

/** Elasticsearch's order of keyword terms: by UTF-8 bytes. */
function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

const READ_ONLY = new Set([
  "debug.ping",
  "server.info",
  "auth.login",
  "projects.get_all",
  "tasks.get_all",
  "tasks.get_by_id",
  "tasks.get_hyper_params",
  "queues.get_all",
  "queues.get_by_id",
  "queues.get_default",
  "workers.get_all",
  "events.scalar_metrics_iter_histogram",
]);

function isObject(v: unknown): v is Doc {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseRoute(path: string): Route | undefined {
  const m = /^\/(?:v(\d+\.\d+)\/)?([a-z_]+\.[a-z_]+)$/.exec(path);
  if (!m || m[2] === undefined) return undefined;
  return { endpoint: m[2], version: m[1] ?? null };
}

function parseAuth(header: string | undefined): Auth {
  if (header === undefined || header.trim() === "") return { kind: "none" };
  const m = /^(\w+)\s+(\S+)$/.exec(header.trim());
  if (!m || m[1] === undefined || m[2] === undefined) return { kind: "invalid" };
  const scheme = m[1].toLowerCase();
  if (scheme === "bearer") return { kind: "bearer", token: m[2] };
  if (scheme !== "basic") return { kind: "invalid" };
  const decoded = Buffer.from(m[2], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return { kind: "invalid" };
  return { kind: "basic", key: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

function mediaType(contentType: string): string {
  return (contentType.split(";")[0] ?? "").trim().toLowerCase();
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** The body as recorded: parsed JSON when it parses, else the raw text (json-lines bodies are re-recorded line by line once parsed). */
function recordedBody(raw: string): unknown {
  if (raw.trim() === "") return null;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function getPath(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.split(".")) {
    if (!isObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

/** Copies the `only_fields` paths of `doc` (plus `id`, always) into a new object. */
function projectFields(doc: Doc, fields: readonly string[]): Doc {
  const out: Doc = { id: doc["id"] };
  for (const field of fields) {
    const value = getPath(doc, field);
    if (value === undefined) continue;
    const parts = field.split(".");
    const last = parts.pop() as string;
    let dst = out;
    for (const part of parts) {
      const next = dst[part];
      if (isObject(next)) dst = next;
      else {
        const created: Doc = {};
        dst[part] = created;
        dst = created;
      }
    }
    dst[last] = structuredClone(value);
  }
  return out;
}

/** A task as answered: the whole document without the fields the server excludes by default, or the `only_fields` projection. */
function answerTask(t: FakeTask, onlyFields: readonly string[] | undefined): Doc {
  if (onlyFields) return projectFields(t as unknown as Doc, onlyFields);
  const doc = structuredClone(t) as unknown as Doc;
  delete doc["enqueue_status"];
  return doc;
}

function typeRank(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === "number") return 1;
  if (typeof v === "string") return 2;
  if (typeof v === "boolean") return 3;
  return 4;
}

/** Orders as the database does: missing/null first, then numbers, then strings (by code unit). */
function compareValues(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 1) return (a as number) - (b as number);
  if (ra === 2) return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
  if (ra === 3) return Number(a) - Number(b);
  if (ra === 4) return compareValues(JSON.stringify(a), JSON.stringify(b));
  return 0;
}

function stringArray(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function compileRegex(pattern: string, key: string, flags = ""): RegExp {
  try {
    return new RegExp(pattern, flags);
  } catch {
    throw apiError("invalid_regex_error", undefined, { [key]: pattern });
  }
}

/** A time as the server's parse_datetime reads it (no zone: UTC); NaN when it cannot. */
function parseTime(v: string): number {
  const s = /^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : /(?:[zZ]|[+-]\d\d:?\d\d)$/.test(v) ? v : `${v}Z`;
  return Date.parse(s);
}

/** A value of a range or date filter, comparable: times as epoch ms, numbers as numbers. */
function comparable(v: unknown, dates: boolean): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    const n = dates ? parseTime(v) : Number(v);
    return Number.isNaN(n) ? undefined : n;
  }
  return undefined;
}

/** `[min, max]` inclusive (either null; a null min also matches a missing value). */
function inRange(value: unknown, range: readonly unknown[], dates: boolean): boolean {
  const [lo, hi] = range;
  const v = comparable(value, dates);
  if (v === undefined) return lo === null || lo === undefined;
  const min = comparable(lo, dates);
  const max = comparable(hi, dates);
  return (min === undefined || v >= min) && (max === undefined || v <= max);
}

/**
 * A datetime filter as GetMixin._get_dates_query reads it: `[">=t", "<t2"]` (prefixes >=, >, <=, <;
 * none: equal), or a `[min, max]` range when neither of two values has a prefix.
 */
function dateCondition(data: string | readonly (string | null)[]): (value: unknown) => boolean {
  const list = Array.isArray(data) ? data : [data as string];
  if (list.length === 2 && !list.some((d) => d !== null && /^(>=|>|<=|<)/.test(d))) return (v) => inRange(v, list, true);
  const conds: ((t: number) => boolean)[] = [];
  for (const d of list) {
    if (d === null) continue;
    const m = /^(>=|>|<=|<)?(.*)$/.exec(d);
    const t = parseTime(m?.[2] ?? "");
    if (Number.isNaN(t)) continue;
    switch (m?.[1]) {
      case ">=":
        conds.push((x) => x >= t);
        break;
      case ">":
        conds.push((x) => x > t);
        break;
      case "<=":
        conds.push((x) => x <= t);
        break;
      case "<":
        conds.push((x) => x < t);
        break;
      default:
        conds.push((x) => x === t);
    }
  }
  return (value) => {
    if (conds.length === 0) return true;
    const t = comparable(value, true);
    return t !== undefined && conds.every((c) => c(t));
  };
}

function flattenHyperparams(task: FakeTask): FakeTask["hyperparams"][string][string][] {
  const out: FakeTask["hyperparams"][string][string][] = [];
  for (const section of Object.values(task.hyperparams)) for (const p of Object.values(section)) out.push(structuredClone(p));
  return out.sort((a, b) => (a.section === b.section ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.section < b.section ? -1 : 1));
}

/**
 * The fake server. Start it with {@link FakeClearml.start}, point a client at {@link url}, and
 * call {@link assertClean} in `afterEach` and {@link close} in `afterAll`.
 */
export class FakeClearml {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly accessKey: string;
  readonly secretKey: string;
  /** Current projects (mutable: a test may add some). */
  readonly projects: FakeProject[];
  /** Current tasks (mutable; every write, worker report and event updates them in place). */
  readonly tasks: FakeTask[];
  /** Current queues (mutable; `entries` oldest first). */
  readonly queues: FakeQueue[];
  /** Registered workers by key (live; expired ones are dropped when next looked at). */
  readonly workers = new Map<string, FakeWorker>();
  /** What each task's process printed when the built-in agent ran it (stdout and stderr as they came, plus the agent's `[clearml-agent]` notes). */
  readonly logs = new Map<string, string>();
  /** The fake's clock: `now()` (epoch ms) and `advance(ms)`. Every server time reads it. */
  readonly clock: FakeClock;
  /** Agents started with {@link startAgent} and not stopped yet. */
  readonly agents: FakeAgent[] = [];
  /** Every request answered (or dropped), in order. */
  readonly requests: RecordedRequest[] = [];
  /**
   * Problems the fake detected that the real server would let pass silently: unknown keys
   * (ignored), keys newer than the path version, keys the server ignores, non-booleans read by
   * truthiness, schema errors, unknown endpoints, wrong content types, Basic auth on a call other
   * than auth.login, a malformed Authorization header, unknown field names in
   * `only_fields`/`order_by`, results truncated by the 500 cap, paging without `order_by`,
   * `id: []`, unknown `__$` operators, unknown statuses in a filter, `queue_name` on enqueue,
   * empty clone overrides, a request after close... A test calls {@link assertClean} in `afterEach`.
   */
  readonly violations: string[] = [];
  /** Scalar events accepted by events.add_batch, in order. */
  readonly events: Record<string, unknown>[] = [];

  private readonly server: Server;
  private readonly backend: FakeBackend;
  private readonly apiVersion: string;
  private readonly latencyMs: number;
  private readonly tokenLifetimeSec: number;
  private readonly signingKey = randomBytes(32);
  private readonly uid = randomBytes(16).toString("hex");
  private readonly validators = new Map<string, ValidateFunction>();
  /** token -> expiry (epoch ms). */
  private readonly tokens = new Map<string, number>();
  private readonly scrolls = new Map<string, Scroll>();
  private readonly failures: { endpoint: string; error: FakeError; remaining: number }[] = [];
  private readonly malformations: { endpoint: string; kind: Malformation; remaining: number; skip: number }[] = [];
  private readonly responders: { endpoint: string; respond: Responder; remaining: number }[] = [];
  /** `${task}\0${md5(metric)}\0${md5(variant)}` -> timestamp of the event that set `value`. */
  private readonly lastTimestamps = new Map<string, number>();
  private readonly pendingDelays = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private closing = false;
  private closed: Promise<void> | undefined;
  private readonly memoize: boolean;
  private memo: { key: string; tasks: number; events: number; writes: number; list: unknown[] } | undefined;
  private writes = 0;
  private agentCount = 0;

  private constructor(server: Server, url: string, options: FakeClearmlOptions) {
    this.server = server;
    this.url = url;
    this.accessKey = options.accessKey ?? FAKE_ACCESS_KEY;
    this.secretKey = options.secretKey ?? FAKE_SECRET_KEY;
    this.apiVersion = options.apiVersion ?? DEFAULT_API_VERSION;
    this.latencyMs = options.latencyMs ?? 0;
    this.memoize = options.memoizeQueries === true;
    this.tokenLifetimeSec = options.tokenLifetimeSec ?? DEFAULT_TOKEN_LIFETIME_SEC;
    const source = options.now ?? Date.now;
    let offset = 0;
    this.clock = {
      now: () => source() + offset,
      advance: (ms: number) => {
        offset += ms;
      },
    };
    this.projects = structuredClone(options.projects ?? []);
    this.tasks = structuredClone(options.tasks ?? []);
    // Scalars a task was seeded with are events the server holds, as if add_batch had sent them.
    for (const task of this.tasks) {
      for (const ev of task.seed_events ?? []) {
        this.events.push({ ...ev });
        this.lastTimestamps.set(`${task.id}\0${md5(ev.metric)}\0${md5(ev.variant)}`, ev.timestamp);
      }
      delete task.seed_events;
    }
    this.queues = [];
    this.backend = new FakeBackend({
      clock: this.clock,
      identity: FAKE_IDENTITY,
      projects: this.projects,
      tasks: this.tasks,
      queues: this.queues,
      workers: this.workers,
      deleteEvents: (ids) => this.deleteEvents(ids),
      record: (v) => this.violations.push(v),
    });
    if (options.defaultQueue !== false) this.backend.createQueue({ id: DEFAULT_QUEUE_ID, name: "default", system_tags: ["default"] });
    for (const q of options.queues ?? []) this.backend.createQueue({ id: q.id ?? fakeId(`queue\0${q.name}`), name: q.name, tags: q.tags ?? [], system_tags: q.system_tags ?? [] });
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    for (const [name, spec] of Object.entries(ENDPOINTS)) this.validators.set(name, ajv.compile(spec.schema));
  }

  /**
   * Starts a fake server on 127.0.0.1 on an ephemeral port.
   *
   * @throws {Error} when two tasks (or two projects, or two queues) share an id, or a queue name is refused.
   */
  static async start(options: FakeClearmlOptions = {}): Promise<FakeClearml> {
    for (const [what, items] of [["task", options.tasks ?? []], ["project", options.projects ?? []], ["queue", (options.queues ?? []).map((q) => ({ id: q.id ?? fakeId(`queue\0${q.name}`), name: q.name }))]] as const) {
      const seen = new Set<string>();
      for (const item of items) {
        if (seen.has(item.id)) throw new Error(`fake ClearML: duplicate ${what} id ${item.id} (${item.name}); pass distinct ids`);
        seen.add(item.id);
      }
    }
    // The instance needs the port, and the server needs a handler first: the handler reads it late.
    const started: { fake?: FakeClearml } = {};
    const server = createServer((req, res) => {
      if (started.fake) started.fake.onRequest(req, res);
      else res.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    let fake: FakeClearml;
    try {
      fake = new FakeClearml(server, `http://127.0.0.1:${port}`, options);
    } catch (e) {
      server.close();
      throw e instanceof ApiError ? new Error(`fake ClearML: ${e.message}`) : e;
    }
    started.fake = fake;
    return fake;
  }

  /** @throws {Error} listing every violation, when there is any. */
  assertClean(): void {
    if (this.violations.length === 0) return;
    throw new Error(`the fake ClearML server recorded ${this.violations.length} violation(s):\n${this.violations.map((v) => `  - ${v}`).join("\n")}`);
  }

  /** Returns the violations recorded so far and forgets them (for a test that provokes some on purpose). */
  takeViolations(): string[] {
    return this.violations.splice(0, this.violations.length);
  }

  /** Requests received: all of them, or those to one endpoint (`"tasks.get_all"`). */
  count(endpoint?: string): number {
    return endpoint === undefined ? this.requests.length : this.requests.filter((r) => r.endpoint === endpoint).length;
  }

  /** Forgets the recorded requests, so counts start again from 0. */
  resetCounts(): void {
    this.requests.length = 0;
  }

  /**
   * The next `times` (default 1) calls to `endpoint` (or to any endpoint, `"*"`) answer with this
   * error envelope instead, without being processed. Default message by status.
   */
  failNext(endpoint: string, error: FakeError, times = 1): void {
    this.failures.push({ endpoint, error, remaining: times });
  }

  /**
   * The next call to `endpoint` (or `"*"`) is processed as usual (its side effects happen, as
   * when a real answer is lost on the way back) and then answers 200 with a body that is not
   * JSON ("malformed"), with JSON lacking the envelope ("no-envelope": the bare `data`), answers
   * 502 with a proxy's HTML page ("502"), closes the socket without answering ("drop"), or never
   * answers at all until the client gives up ("hang"). `skip` calls pass untouched first (lose
   * the answer to page 2: `skip: 2`); `times` (default 1) calls are affected after them.
   */
  malformNext(endpoint: string, kind: Malformation, options: { skip?: number; times?: number } = {}): void {
    this.malformations.push({ endpoint, kind, remaining: options.times ?? 1, skip: options.skip ?? 0 });
  }

  /**
   * The next `times` (default 1; `Infinity` for every) calls to `endpoint` (or `"*"`) are
   * processed as usual and then answered by `respond`, which writes the whole response.
   */
  respondNext(endpoint: string, respond: Responder, times = 1): void {
    this.responders.push({ endpoint, respond, remaining: times });
  }

  /** Every token issued so far becomes invalid (401/30 "Invalid token"), as when a token expires mid-run. */
  invalidateTokens(): void {
    this.tokens.clear();
  }

  /**
   * Starts a built-in agent serving one queue (see agent.ts): it acts on the server's state
   * directly (never through HTTP: `requests` and `count()` stay the client's) and runs each task's
   * command for real. `close()` stops it too.
   *
   * @throws {Error} when the queue does not exist (by id or name), or with no queue given, 707/708.
   */
  async startAgent(options: AgentOptions = {}): Promise<FakeAgent> {
    if (this.closing) throw new Error("fake ClearML: startAgent after close()");
    let agent: FakeAgent;
    try {
      const onStopped = (a: FakeAgent): void => {
        const i = this.agents.indexOf(a);
        if (i >= 0) this.agents.splice(i, 1);
      };
      const host = { backend: this.backend, tasks: this.tasks, queues: this.queues, url: this.url, accessKey: this.accessKey, secretKey: this.secretKey, logs: this.logs, onStopped };
      agent = new FakeAgent(host, options, ++this.agentCount);
    } catch (e) {
      throw e instanceof ApiError ? new Error(`fake ClearML agent: ${e.message}`) : e;
    }
    this.agents.push(agent);
    agent.start();
    return agent;
  }

  /**
   * Runs the server's non-responsive tasks watchdog once, at the clock's now: every in_progress
   * task whose last_update is older than `thresholdSec` (default 7,200) is stopped with reason
   * "Forced stop (non-responsive)". Returns the ids it stopped.
   */
  runWatchdog(thresholdSec?: number): string[] {
    this.writes += 1;
    return this.backend.runWatchdog(thresholdSec);
  }

  /**
   * Resolves with the task once `predicate` holds for it (it is undefined once deleted), polling
   * every 10 ms of real time.
   * @throws {Error} after `timeoutMs` (default 30,000), with the task's last state.
   */
  async waitFor(taskId: string, predicate: (task: FakeTask | undefined) => boolean, timeoutMs = 30_000): Promise<FakeTask | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = this.tasks.find((t) => t.id === taskId);
      if (predicate(task)) return task;
      if (Date.now() > deadline) {
        const state = task ? JSON.stringify({ status: task.status, status_reason: task.status_reason, status_message: task.status_message }) : "deleted";
        throw new Error(`fake ClearML: task ${taskId} did not reach the awaited state in ${timeoutMs} ms (now ${state}; agent errors: ${this.agents.flatMap((a) => a.errors).join("; ") || "none"})`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Stops every agent (killing their processes), stops listening, destroys every connection (idle keep-alive ones too) and cancels pending latency timers. Idempotent. */
  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.closing = true;
    for (const pending of this.pendingDelays) {
      clearTimeout(pending.timer);
      pending.resolve();
    }
    this.pendingDelays.clear();
    this.closed = (async () => {
      await Promise.all([...this.agents].map((a) => a.stop()));
      await new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        this.server.closeAllConnections();
      });
    })();
    return this.closed;
  }

  // ---------------------------------------------------------------- plumbing

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.handle(req, res).catch((e: unknown) => {
      // A client that went away mid-request is not a fake bug; anything else is.
      if (!res.destroyed && !this.closing) {
        this.violations.push(`fake server error on ${req.method ?? "?"} ${req.url ?? "?"}: ${e instanceof Error ? e.message : String(e)}`);
        res.destroy();
      }
    });
  }

  private delay(): Promise<void> {
    if (this.latencyMs <= 0 || this.closing) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const pending = {
        resolve,
        timer: setTimeout(() => {
          this.pendingDelays.delete(pending);
          resolve();
        }, this.latencyMs),
      };
      this.pendingDelays.add(pending);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    await this.delay();
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const method = req.method ?? "GET";
    const route = method === "POST" ? parseRoute(path) : undefined;
    const endpoint = route?.endpoint ?? `${method} ${path}`;
    const contentType = req.headers["content-type"] ?? "";
    const auth = parseAuth(req.headers.authorization);
    const rec: RecordedRequest = { endpoint, version: route?.version ?? null, auth: auth.kind, contentType, body: recordedBody(raw), status: 0 };
    if (this.closing) {
      this.violations.push(`${endpoint}: request received after close()`);
      this.requests.push(rec);
      res.destroy();
      return;
    }

    let outcome: Outcome;
    try {
      outcome = { status: 200, subcode: 0, msg: "OK", data: this.process(method, path, route, auth, raw, contentType, rec), errorData: {} };
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      outcome = { status: e.status, subcode: e.subcode, msg: e.message, data: {}, errorData: e.errorData };
    }

    const malformation = route ? this.take(this.malformations, route.endpoint) : undefined;
    if (malformation?.kind === "drop") {
      this.requests.push(rec);
      res.destroy();
      return;
    }
    if (malformation?.kind === "hang") {
      // The answer never comes; close() (or the client's timeout) ends the socket.
      this.requests.push(rec);
      return;
    }
    if (malformation?.kind === "502") {
      rec.status = 502;
      this.requests.push(rec);
      if (res.destroyed) return;
      const page = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\n";
      res.writeHead(502, { "Content-Type": "text/html", "Content-Length": Buffer.byteLength(page) });
      res.end(page);
      return;
    }
    const responder = route ? this.take(this.responders, route.endpoint) : undefined;
    if (responder) {
      rec.status = outcome.status;
      this.requests.push(rec);
      if (!res.destroyed) responder.respond(res, { text: JSON.stringify(this.envelope(route, endpoint, outcome)), data: outcome.data, status: outcome.status });
      return;
    }
    let text: string;
    if (malformation?.kind === "malformed") text = '{"meta": {"id": "' + randomBytes(4).toString("hex") + '", "result_code": 200, "data": {';
    else if (malformation?.kind === "no-envelope") text = JSON.stringify(outcome.data);
    else text = JSON.stringify(this.envelope(route, endpoint, outcome));
    rec.status = malformation ? 200 : outcome.status;
    this.requests.push(rec);
    if (res.destroyed) return;
    res.writeHead(rec.status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
    res.end(text);
  }

  private envelope(route: Route | undefined, endpoint: string, o: Outcome): unknown {
    const id = randomBytes(16).toString("hex");
    const spec = route ? ENDPOINTS[route.endpoint] : undefined;
    const requested = route?.version ?? this.apiVersion;
    let actual: string | null = null;
    if (spec) for (const v of spec.versions) if (compareVersions(v, requested) <= 0) actual = v;
    return {
      meta: {
        id,
        trx: id,
        endpoint: { name: endpoint, requested_version: requested, actual_version: actual },
        result_code: o.status,
        result_subcode: o.subcode,
        result_msg: o.msg,
        error_stack: null,
        error_data: o.errorData,
      },
      data: o.data,
    };
  }

  /** Removes and returns the first queued entry for `endpoint` or "*" (decrementing `remaining` where it has one; passing `skip` calls first). */
  private take<T extends { endpoint: string; remaining?: number; skip?: number }>(queue: T[], endpoint: string): T | undefined {
    const i = queue.findIndex((q) => q.endpoint === endpoint || q.endpoint === "*");
    const entry = queue[i];
    if (entry === undefined) return undefined;
    if (entry.skip !== undefined && entry.skip > 0) {
      entry.skip -= 1;
      return undefined;
    }
    if (entry.remaining === undefined || entry.remaining <= 1) queue.splice(i, 1);
    else entry.remaining -= 1;
    return entry;
  }

  private process(method: string, path: string, route: Route | undefined, auth: Auth, raw: string, contentType: string, rec: RecordedRequest): unknown {
    if (!route) {
      this.violations.push(`${method} ${path}: not an API call (POST /v<major.minor>/<service>.<action>)`);
      throw new ApiError(404, 0, `Unable to find endpoint for ${method} ${path}`);
    }
    const { endpoint, version } = route;
    const spec = ENDPOINTS[endpoint];
    if (!spec) {
      this.violations.push(`${endpoint}: unknown endpoint (the fake simulates ${Object.keys(ENDPOINTS).join(", ")})`);
      throw new ApiError(404, 0, `Unable to find endpoint for name ${endpoint} and version ${version ?? this.apiVersion}`);
    }
    // A path version newer than the server's is served by its newest (check_max_version is off by default).
    if (version !== null && spec.minVersion !== undefined && compareVersions(version, spec.minVersion) < 0) {
      this.violations.push(`${endpoint}: exists from API version ${spec.minVersion}; the path asks for ${version}`);
      throw new ApiError(404, 0, `Unable to find endpoint for name ${endpoint} and version ${version}`);
    }

    const failure = this.take(this.failures, endpoint);
    if (failure) {
      const { status, subcode = 0 } = failure.error;
      throw new ApiError(status, subcode, failure.error.msg ?? (status >= 500 ? "General error" : "Injected error"));
    }

    this.authenticate(endpoint, spec, auth);

    if (spec.body === "json-lines") return this.addBatch(raw, contentType, version, rec);

    let body: unknown = {};
    if (raw.trim() !== "") {
      if (mediaType(contentType) !== "application/json") this.violations.push(`${endpoint}: Content-Type '${contentType}' (send application/json)`);
      try {
        body = JSON.parse(raw);
      } catch {
        this.violations.push(`${endpoint}: validation error: the body is not valid JSON`);
        throw apiError("validation_error", "the body is not valid JSON");
      }
    }
    readRequestBody(endpoint, spec, this.validators.get(endpoint) as ValidateFunction, body, version, this.apiVersion, (v) => this.violations.push(v));
    const b = body;
    if (!READ_ONLY.has(endpoint)) this.writes += 1;
    try {
      return this.dispatch(endpoint, b);
    } catch (e) {
      // An unknown list operator is a client bug the server answers 400/16 to.
      if (e instanceof ApiError && e.subcode === 16 && e.message.includes("operator")) this.violations.push(`${endpoint}: ${e.message}`);
      throw e;
    }
  }

  private dispatch(endpoint: string, b: Doc): unknown {
    const backend = this.backend;
    switch (endpoint) {
      case "debug.ping":
        return { msg: "ClearML server" };
      case "server.info":
        return { version: "2.3.0", server_version: "2.3.0", api_version: this.apiVersion, build: "fake", commit: "fake", uid: this.uid };
      case "auth.login":
        return { token: this.issueToken(typeof b["expiration_sec"] === "number" ? b["expiration_sec"] : this.tokenLifetimeSec) };
      case "projects.get_all":
        return this.projectsGetAll(b as ListQuery);
      case "tasks.get_all":
        return this.tasksGetAll(b as ListQuery);
      case "tasks.get_by_id": {
        const id = String(b["task"]);
        const task = backend.findVisible(id);
        if (!task) throw apiError("invalid_task_id", undefined, { ids: [id] });
        return { task: answerTask(task, undefined) };
      }
      case "tasks.get_hyper_params": {
        const ids = stringArray(b["tasks"]);
        const missing = ids.filter((id) => !backend.findVisible(id));
        if (missing.length > 0) throw apiError("invalid_task_id", undefined, { ids });
        return { params: [...new Set(ids)].map((id) => ({ task: id, hyperparams: flattenHyperparams(backend.taskForRead(id)) })) };
      }
      case "events.scalar_metrics_iter_histogram":
        return this.scalarHistogram(b);
      case "tasks.create":
        return { id: backend.create(b) };
      case "tasks.edit":
        return backend.edit(b);
      case "tasks.clone":
        return backend.clone(b);
      case "tasks.edit_hyper_params":
        return { updated: backend.editHyperParams(b) };
      case "tasks.enqueue":
        if (typeof b["queue_name"] === "string") this.violations.push(`tasks.enqueue: queue_name '${b["queue_name"]}' creates the queue when no queue has that name (a typo makes a new queue): pass the queue id`);
        return backend.enqueue(b);
      case "tasks.dequeue":
        return backend.dequeue(b);
      case "tasks.stop":
        return backend.stop(b);
      case "tasks.started":
        return backend.setStatus("started", b);
      case "tasks.stopped":
        return backend.setStatus("stopped", b);
      case "tasks.failed":
        return backend.setStatus("failed", b);
      case "tasks.close":
        return backend.setStatus("close", b);
      case "tasks.completed":
        return backend.setStatus("completed", b);
      case "tasks.ping":
        backend.ping(String(b["task"]));
        return {};
      case "tasks.reset":
        return backend.reset(b);
      case "tasks.archive":
        return backend.archive(b);
      case "tasks.archive_many":
        return backend.archiveMany(b);
      case "tasks.unarchive_many":
        return backend.unarchiveMany(b);
      case "tasks.delete":
        return backend.delete(b);
      case "queues.get_all":
        return this.queuesGetAll(b as ListQuery);
      case "queues.get_by_id":
        return { queue: this.answerQueue(backend.queueById(String(b["queue"])), typeof b["max_task_entries"] === "number" ? b["max_task_entries"] : undefined) };
      case "queues.get_default": {
        const q = backend.defaultQueue();
        return { id: q.id, name: q.name };
      }
      case "projects.create": {
        if (typeof b["name"] !== "string") throw apiError("missing_required_fields", undefined, { missing: "name" });
        return { id: backend.createProject({ name: b["name"] }).id };
      }
      case "queues.create":
        return { id: backend.createQueue({ name: String(b["name"]), ...(b as { display_name?: string; tags?: string[]; system_tags?: string[]; metadata?: Doc }) }).id };
      case "queues.delete":
        backend.deleteQueue(String(b["queue"]), b["force"] === true);
        return { deleted: 1 };
      case "queues.get_next_task": {
        const next = backend.getNextTask(String(b["queue"]), typeof b["task"] === "string" ? b["task"] : undefined);
        if (!next) return {};
        const out: Doc = { entry: { ...next.entry } };
        if (b["get_task_info"] === true && next.task) out["task_info"] = { company: next.task.company, user: next.task.user };
        return out;
      }
      case "workers.register":
        backend.registerWorker(String(b["worker"]), b as { timeout?: number; queues?: string[]; tags?: string[]; system_tags?: string[] });
        return {};
      case "workers.unregister":
        backend.unregisterWorker(String(b["worker"]));
        return {};
      case "workers.status_report":
        backend.statusReport(String(b["worker"]), b as { task?: string; queue?: string; queues?: string[]; tags?: string[]; system_tags?: string[] });
        return {};
      case "workers.get_all":
        return { workers: backend.workersGetAll(b as { last_seen?: number; tags?: string[]; system_tags?: string[]; worker_pattern?: string }) };
      default:
        throw new Error(`no handler for ${endpoint}`);
    }
  }

  // ---------------------------------------------------------------- auth

  private credentialsOk(auth: { key: string; secret: string }): boolean {
    return auth.key === this.accessKey && auth.secret === this.secretKey;
  }

  private authenticate(endpoint: string, spec: EndpointSpec, auth: Auth): void {
    if (auth.kind === "invalid") this.violations.push(`${endpoint}: malformed Authorization header`);
    if (endpoint === "auth.login") {
      // A token renews itself: the SDK (and a task run by clearml-agent with CLEARML_AUTH_TOKEN)
      // logs in with `Bearer <token>`, which the server authorises as any other call.
      if (auth.kind === "bearer") {
        const expires = this.tokens.get(auth.token);
        if (expires === undefined || this.clock.now() >= expires) throw new ApiError(401, 30, "Invalid token");
        return;
      }
      if (auth.kind !== "basic") throw new ApiError(401, 20, "Missing authentication (auth.login takes Basic credentials or a token)");
      // Never echo the key or the secret.
      if (!this.credentialsOk(auth)) throw new ApiError(401, 21, "Invalid credentials");
      return;
    }
    if (!spec.auth) return;
    switch (auth.kind) {
      case "none":
      case "invalid":
        throw new ApiError(401, 20, "Missing authentication");
      case "basic":
        if (!this.credentialsOk(auth)) throw new ApiError(401, 21, "Invalid credentials");
        this.violations.push(`Basic auth used on ${endpoint} (log in once)`);
        return;
      case "bearer": {
        const expires = this.tokens.get(auth.token);
        if (expires === undefined || this.clock.now() >= expires) throw new ApiError(401, 30, "Invalid token");
        return;
      }
    }
  }

  private issueToken(lifetimeSec: number): string {
    const now = this.clock.now();
    const iat = Math.floor(now / 1000);
    const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");
    const header = b64({ alg: "HS256", typ: "JWT" });
    const payload = b64({
      env: "fake",
      iat,
      exp: iat + lifetimeSec,
      jti: randomBytes(8).toString("hex"),
      identity: { ...FAKE_IDENTITY, role: "user" },
      api_version: this.apiVersion,
      server_version: "2.3.0",
    });
    const signature = createHmac("sha256", this.signingKey).update(`${header}.${payload}`).digest("base64url");
    const token = `${header}.${payload}.${signature}`;
    this.tokens.set(token, now + lifetimeSec * 1000);
    return token;
  }

  // ---------------------------------------------------------------- lists

  private checkFieldNames(endpoint: string, q: ListQuery, known: readonly string[]): void {
    for (const f of q.only_fields ?? []) {
      const top = f.split(".")[0] ?? f;
      if (!known.includes(top)) this.violations.push(`${endpoint}: only_fields names '${f}', not a field (the server would return nothing for it)`);
    }
    for (const f of q.order_by ?? []) {
      const top = f.replace(/^[-+]/, "").split(".")[0] ?? f;
      if (top !== "@text_score" && !known.includes(top)) this.violations.push(`${endpoint}: order_by names '${f}', not a field (the server would not sort by it)`);
    }
  }

  /** A list filter parsed once (400/16 for an unknown operator), or undefined when absent or empty (no filter). */
  private listFilter(field: string, value: unknown): ListFilter | undefined {
    if (value === undefined || value === null) return undefined;
    const list = Array.isArray(value) ? (value as unknown[]) : [value];
    if (list.length === 0) return undefined;
    return parseListFilter(field, list);
  }

  /** Filters shared by tasks, projects and queues: regex on name, ids, tags, system tags, text, multi-field patterns, hidden. */
  private commonFilter(endpoint: string, q: ListQuery, hidden: (doc: Doc) => boolean): (doc: Doc) => boolean {
    if (Array.isArray(q.id) && q.id.length === 0) this.violations.push(`${endpoint}: id: [] is no filter at all (the server returns everything, up to 500): never send an empty id list`);
    const name = q.name === undefined || q.name === "" ? undefined : compileRegex(q.name, "name");
    const ids = this.listFilter("id", q.id);
    const tags = this.listFilter("tags", q.tags);
    const systemTags = this.listFilter("system_tags", q.system_tags);
    const text = q.search_text?.toLowerCase();
    // _hidden_query: hidden documents are left out unless search_hidden or an id filter is sent.
    const searchHidden = q.search_hidden === true || (q.id !== undefined && q.id !== null && q.id.length > 0);
    const multi = (["_all_", "_any_"] as const).flatMap((key) => {
      const cond = q[key];
      if (cond === undefined || cond.fields.length === 0) return [];
      const tests: ((doc: Doc, f: string) => boolean)[] = [];
      if (cond.pattern !== undefined) {
        const re = compileRegex(cond.pattern, key, "i");
        tests.push((doc, f) => {
          const v = getPath(doc, f);
          return Array.isArray(v) ? v.some((x) => re.test(String(x))) : v !== undefined && v !== null && re.test(String(v));
        });
      } else if (cond.datetime !== undefined) {
        const c = dateCondition(cond.datetime);
        tests.push((doc, f) => c(getPath(doc, f)));
      }
      const [test] = tests;
      if (!test) return [];
      return [(doc: Doc): boolean => (key === "_all_" ? cond.fields.every((f) => test(doc, f)) : cond.fields.some((f) => test(doc, f)))];
    });
    return (doc) => {
      if (!searchHidden && hidden(doc)) return false;
      if (ids && !matchesParsedFilter([String(doc["id"])], ids)) return false;
      if (name && !name.test(String(doc["name"] ?? ""))) return false;
      if (tags && !matchesParsedFilter(stringArray(doc["tags"]), tags)) return false;
      if (systemTags && !matchesParsedFilter(stringArray(doc["system_tags"]), systemTags)) return false;
      if (text !== undefined && !`${String(doc["id"])}\n${String(doc["name"] ?? "")}\n${String(doc["comment"] ?? "")}`.toLowerCase().includes(text)) return false;
      return multi.every((m) => m(doc));
    };
  }

  private order<T extends Doc>(list: T[], orderBy: readonly string[] | undefined): T[] {
    if (!orderBy || orderBy.length === 0) return list;
    const keys = orderBy.map((f) => (f.startsWith("-") ? { path: f.slice(1), dir: -1 } : { path: f.replace(/^\+/, ""), dir: 1 }));
    return [...list].sort((a, b) => {
      for (const k of keys) {
        const c = compareValues(getPath(a, k.path), getPath(b, k.path));
        if (c !== 0) return c * k.dir;
      }
      return compareValues(a["id"], b["id"]);
    });
  }

  /** Applies page/page_size, scroll_id/size or the unpaged cap, as the real server does (never more than 500). */
  private paginate<T>(endpoint: string, query: () => T[], q: ListQuery): { items: T[]; scrollId?: string } {
    const ordered = q.order_by !== undefined && q.order_by.length > 0;
    const cap = (requested: number, key: string): number => {
      if (requested <= MAX_PAGE_SIZE) return requested;
      this.violations.push(`${endpoint}: ${key} ${requested} exceeds the server's cap of ${MAX_PAGE_SIZE}: each call returns at most ${MAX_PAGE_SIZE}`);
      return MAX_PAGE_SIZE;
    };
    if ("scroll_id" in q) {
      // As the real server (apiserver/database/model/base.py, get_data_with_scroll_support): ONE
      // scroll id per listing; an unknown or expired id silently starts a new scroll at 0; the
      // query is re-run from this request's body at the saved position; the new position is
      // saved BEFORE the answer is sent (so a lost answer's page is skipped by a retry); `size`
      // is not capped.
      if (!ordered) this.violations.push(`${endpoint}: scrolling without order_by (pass one for a stable order)`);
      if (q.size === undefined) throw apiError("validation_error", "Integer size parameter greater than 1 should be provided when working with scroll");
      const size = q.size;
      let id = typeof q.scroll_id === "string" ? q.scroll_id : undefined;
      let state = id === undefined ? undefined : this.scrolls.get(id);
      if (state === undefined || this.clock.now() >= state.expires) {
        id = randomBytes(16).toString("hex");
        state = { position: 0, expires: 0 };
      }
      let count = size;
      if (q.refresh_scroll === true) {
        count = Math.max(state.position, size);
        state.position = 0;
      }
      const items = query().slice(state.position, state.position + count);
      state.position += items.length;
      state.expires = this.clock.now() + SCROLL_TTL_MS;
      this.scrolls.set(id as string, state);
      return { items, scrollId: id as string };
    }
    if (q.size !== undefined) this.violations.push(`${endpoint}: size without scroll_id is ignored by the server (send "scroll_id": null to start a scroll)`);
    const list = query();
    if (q.page !== undefined || q.page_size !== undefined) {
      if (!ordered) this.violations.push(`${endpoint}: paging without order_by (pass one for stable pages)`);
      const size = cap(q.page_size ?? MAX_PAGE_SIZE, "page_size");
      const start = (q.page ?? 0) * size;
      return { items: list.slice(start, start + size) };
    }
    if (list.length > MAX_PAGE_SIZE) this.violations.push(`${endpoint}: an unpaged call matched ${list.length}; the server returns only the first ${MAX_PAGE_SIZE} (page or scroll)`);
    return { items: list.slice(0, MAX_PAGE_SIZE) };
  }

  /** `compute()`, or its earlier result for the same query while tasks and events are unchanged (only with `memoizeQueries`). */
  private memoized<T>(endpoint: string, q: ListQuery, compute: () => T[]): T[] {
    if (!this.memoize) return compute();
    const { page: _page, page_size: _pageSize, scroll_id: _scrollId, size: _size, refresh_scroll: _refresh, ...rest } = q;
    const key = `${endpoint}\0${JSON.stringify(rest)}`;
    const m = this.memo;
    if (m !== undefined && m.key === key && m.tasks === this.tasks.length && m.events === this.events.length && m.writes === this.writes && this.agents.length === 0) return m.list as T[];
    const list = compute();
    this.memo = { key, tasks: this.tasks.length, events: this.events.length, writes: this.writes, list };
    return list;
  }

  private tasksGetAll(q: ListQuery): unknown {
    const endpoint = "tasks.get_all";
    this.checkFieldNames(endpoint, q, TASK_FIELDS);
    const common = this.commonFilter(endpoint, q, (doc) => stringArray(doc["system_tags"]).includes("hidden"));
    let projects: Set<string> | undefined;
    const projectFilter = this.listFilter("project", q.project);
    if (projectFilter && q.include_subprojects === true) {
      const expanded = new Set(projectFilter.anyOf);
      for (const id of projectFilter.anyOf) {
        const parent = this.projects.find((p) => p.id === id);
        if (parent) for (const p of this.projects) if (p.name.startsWith(`${parent.name}/`)) expanded.add(p.id);
      }
      projects = expanded;
    }
    for (const s of stringArray(q.status === undefined ? [] : [q.status].flat())) {
      const value = s.startsWith("__$") ? undefined : s.replace(/^-/, "");
      if (value !== undefined && !(TASK_STATUSES as readonly string[]).includes(value)) this.violations.push(`${endpoint}: status '${s}' is not a task status (it matches nothing)`);
    }
    const status = this.listFilter("status", q.status);
    const types = this.listFilter("type", q.type);
    const users = this.listFilter("user", q.user);
    const parent = this.listFilter("parent", q.parent);
    const queue = this.listFilter("execution.queue", q["execution.queue"]);
    const pattern = q.comment === undefined || q.comment === "" ? undefined : compileRegex(q.comment, "comment");
    const dates = (["status_changed", "last_update", "last_change"] as const).flatMap((f) => (q[f] === undefined ? [] : [{ f, c: dateCondition(q[f] as string | string[]) }]));
    const ranges = (["created", "started", "last_iteration"] as const).flatMap((f) => {
      const r = q[f];
      if (r === undefined) return [];
      if (r.length !== 2) throw apiError("validation_error", `Min and max values should be specified for range field ${f}`);
      return [{ f, r, dates: f !== "last_iteration" }];
    });
    const matching = (): FakeTask[] =>
      this.tasks.filter((t) => {
        const doc = t as unknown as Doc;
        if (!this.backend.visible(t)) return false;
        if (!common(doc)) return false;
        if (projects ? !projects.has(t.project) : projectFilter && !matchesParsedFilter([t.project], projectFilter)) return false;
        if (status && !matchesParsedFilter([t.status], status)) return false;
        if (types && !matchesParsedFilter([t.type], types)) return false;
        if (users && !matchesParsedFilter([t.user], users)) return false;
        if (parent && !matchesParsedFilter(t.parent ? [t.parent] : [], parent)) return false;
        if (queue && !matchesParsedFilter(t.execution?.queue ? [t.execution.queue] : [], queue)) return false;
        if (pattern && !pattern.test(t.comment ?? "")) return false;
        if (!dates.every(({ f, c }) => c(doc[f]))) return false;
        return ranges.every(({ f, r, dates: d }) => inRange(doc[f], r, d));
      });
    const { items, scrollId } = this.paginate(endpoint, () => this.memoized(endpoint, q, () => this.order(matching() as unknown as Doc[], q.order_by)), q);
    const tasks = items.map((t) => answerTask(t as unknown as FakeTask, q.only_fields));
    return scrollId === undefined ? { tasks } : { tasks, scroll_id: scrollId };
  }

  private projectsGetAll(q: ListQuery): unknown {
    const endpoint = "projects.get_all";
    this.checkFieldNames(endpoint, q, PROJECT_FIELDS);
    const common = this.commonFilter(endpoint, q, (doc) => stringArray(doc["system_tags"]).includes("hidden"));
    const description = q.description === undefined ? undefined : compileRegex(q.description, "description");
    const docs: Doc[] = this.projects.map((p) => ({ basename: p.name.slice(p.name.lastIndexOf("/") + 1), ...(p as unknown as Doc) }));
    const matching = (): Doc[] =>
      docs.filter((p) => {
        if (!common(p)) return false;
        if (q.basename !== undefined && p["basename"] !== q.basename) return false;
        if (description && !description.test(String(p["description"] ?? ""))) return false;
        if (q.shallow_search === true && String(p["name"]).includes("/")) return false;
        return true;
      });
    const { items, scrollId } = this.paginate(endpoint, () => this.order(matching(), q.order_by), q);
    const projects = items.map((p) => (q.only_fields ? projectFields(p, q.only_fields) : structuredClone(p)));
    return scrollId === undefined ? { projects } : { projects, scroll_id: scrollId };
  }

  /** A queue as answered, its entries cut to `maxEntries` when given. */
  private answerQueue(q: FakeQueue, maxEntries: number | undefined, onlyFields?: readonly string[]): Doc {
    const doc = structuredClone(q) as unknown as Doc;
    if (maxEntries) doc["entries"] = q.entries.slice(0, maxEntries).map((e) => ({ ...e }));
    return onlyFields ? projectFields(doc, onlyFields) : doc;
  }

  /** queues.get_all: the company's queues; those tagged k8s-glue hidden unless search_hidden, id or name is sent. */
  private queuesGetAll(q: ListQuery): unknown {
    const endpoint = "queues.get_all";
    this.checkFieldNames(endpoint, q, QUEUE_FIELDS);
    const nameSent = q.name !== undefined && q.name !== "";
    const common = this.commonFilter(endpoint, q, (doc) => !nameSent && stringArray(doc["system_tags"]).some((t) => (HIDDEN_QUEUE_TAGS as readonly string[]).includes(t)));
    const matching = (): Doc[] => this.queues.filter((x) => x.company === FAKE_IDENTITY.company && common(x as unknown as Doc)) as unknown as Doc[];
    const { items, scrollId } = this.paginate(endpoint, () => this.order(matching(), q.order_by), q);
    const queues = items.map((x) => this.answerQueue(x as unknown as FakeQueue, q.max_task_entries, q.only_fields));
    return scrollId === undefined ? { queues } : { queues, scroll_id: scrollId };
  }

  // ---------------------------------------------------------------- events

  /**
   * `events.scalar_metrics_iter_histogram {task, samples?, key?, metrics?}` as the server answers
   * it (services/events.py, bll/event/event_metrics.py `get_scalar_metrics_average_per_iter`):
   * `{<metric>: {<variant>: {name, x: [...], y: [...], x_axis_label?}}}`, `{}` for a task without
   * scalars. The task must be readable (the caller's or public: 400/101 otherwise). Events are
   * read as Elasticsearch keeps them: one per iteration, metric and variant, the latest winning.
   * Each variant gets an interval: 1 when it has fewer events than `samples` (default 2000),
   * else ceil((max - min + 1) / samples) of the key; variants are grouped as the server groups
   * them (sorted by interval, an interval within 10% of the group's first, at most 50 variants
   * and 6,000 buckets per group), each group with its largest interval; then each non-empty
   * bucket `floor(x / interval) * interval` is one point, `y` the mean of its values. With the
   * dynamic limits on (the default), at most floor(8000 / metrics / 2) variants of a metric
   * (by name) are read.
   */
  private scalarHistogram(b: Doc): Doc {
    const id = String(b["task"]);
    const task = this.backend.findVisible(id);
    if (!task) throw apiError("invalid_task_id", undefined, { ids: [id] });
    const samples = typeof b["samples"] === "number" ? b["samples"] : 2000;
    const key = typeof b["key"] === "string" ? b["key"] : "iter";
    const field = (e: FakeScalarEvent): number => (key === "iter" ? e.iter : e.timestamp);
    let wanted: Map<string, Set<string> | null> | undefined;
    if (Array.isArray(b["metrics"]) && b["metrics"].length > 0) {
      wanted = new Map();
      for (const m of b["metrics"] as { metric: string; variants?: string[] }[]) wanted.set(m.metric, m.variants && m.variants.length > 0 ? new Set(m.variants) : null);
    }
    const stored = new Map<string, FakeScalarEvent>();
    for (const e of this.events as unknown as FakeScalarEvent[]) {
      if (e.task !== id || e.iter <= SINGLE_SCALAR_ITERATION) continue;
      if (wanted !== undefined && !(wanted.has(e.metric) && (wanted.get(e.metric) === null || wanted.get(e.metric)!.has(e.variant)))) continue;
      stored.set(`${e.iter}\0${e.metric}\0${e.variant}`, e);
    }
    const byMetric = new Map<string, Map<string, FakeScalarEvent[]>>();
    for (const e of stored.values()) {
      const variants = byMetric.get(e.metric) ?? new Map<string, FakeScalarEvent[]>();
      byMetric.set(e.metric, variants);
      const list = variants.get(e.variant) ?? [];
      variants.set(e.variant, list);
      list.push(e);
    }
    const maxVariants = Math.floor(Math.floor(MAX_ES_BUCKETS / Math.max(1, byMetric.size)) / 2);
    const intervals: { metric: string; variant: string; interval: number; size: number; events: FakeScalarEvent[] }[] = [];
    for (const metric of [...byMetric.keys()].sort(byBytes)) {
      const variants = byMetric.get(metric)!;
      for (const variant of [...variants.keys()].sort(byBytes).slice(0, maxVariants)) {
        const events = variants.get(variant)!;
        if (events.length < samples) {
          intervals.push({ metric, variant, interval: 1, size: events.length, events });
          continue;
        }
        let low = Infinity;
        let high = -Infinity;
        for (const e of events) {
          low = Math.min(low, field(e));
          high = Math.max(high, field(e));
        }
        const range = high - low + 1;
        const interval = Math.max(1, Math.ceil(range / samples));
        intervals.push({ metric, variant, interval, size: Math.ceil(range / interval), events });
      }
    }
    // _group_task_metric_intervals: a stable sort by interval, then groups sharing their largest.
    const groups: { interval: number; members: typeof intervals }[] = [];
    let group: typeof intervals = [];
    let upper = 0;
    let groupMax = 0;
    let groupSamples = 0;
    for (const it of [...intervals].sort((x, y) => x.interval - y.interval)) {
      if (it.interval > upper || groupSamples + it.size > MAX_SAMPLE_BUCKETS || group.length >= MAX_AGGS_ELEMENTS_COUNT) {
        if (group.length > 0) groups.push({ interval: groupMax, members: group });
        group = [];
        groupMax = it.interval;
        upper = it.interval + Math.floor(it.interval * 0.1);
        groupSamples = 0;
      }
      group.push(it);
      groupSamples += it.size;
      groupMax = Math.max(groupMax, it.interval);
    }
    if (group.length > 0) groups.push({ interval: groupMax, members: group });

    const labels = new Map<string, string>();
    for (const byVariant of Object.values(task.last_metrics)) for (const entry of Object.values(byVariant)) if (entry.x_axis_label !== undefined) labels.set(`${entry.metric}\0${entry.variant}`, entry.x_axis_label);
    const out = new Map<string, Map<string, Doc>>();
    for (const { interval, members } of groups) {
      for (const { metric, variant, events } of members) {
        const buckets = new Map<number, { sum: number; n: number }>();
        for (const e of events) {
          const at = Math.floor(field(e) / interval) * interval;
          const bucket = buckets.get(at) ?? { sum: 0, n: 0 };
          bucket.sum += e.value;
          bucket.n += 1;
          buckets.set(at, bucket);
        }
        const keys = [...buckets.keys()].sort((x, y) => x - y);
        const series: Doc = {
          name: variant,
          x: keys.map((k) => (key === "iso_time" ? new Date(k).toISOString() : k)),
          y: keys.map((k) => buckets.get(k)!.sum / buckets.get(k)!.n),
        };
        const label = labels.get(`${metric}\0${variant}`);
        if (label !== undefined) series["x_axis_label"] = label;
        const variants = out.get(metric) ?? new Map<string, Doc>();
        out.set(metric, variants);
        variants.set(variant, series);
      }
    }
    const data: Doc = {};
    for (const metric of [...out.keys()].sort(byBytes)) {
      const variants = out.get(metric)!;
      data[metric] = Object.fromEntries([...variants.keys()].sort(byBytes).map((v) => [v, variants.get(v)]));
    }
    return data;
  }

  private deleteEvents(taskIds: readonly string[]): void {
    const ids = new Set(taskIds);
    for (let i = this.events.length - 1; i >= 0; i--) if (ids.has(String(this.events[i]?.["task"]))) this.events.splice(i, 1);
    for (const key of this.lastTimestamps.keys()) if (ids.has(key.split("\0")[0] ?? "")) this.lastTimestamps.delete(key);
  }

  private addBatch(raw: string, contentType: string, version: string | null, rec: RecordedRequest): unknown {
    const endpoint = "events.add_batch";
    const spec = ENDPOINTS[endpoint] as EndpointSpec;
    if (mediaType(contentType) !== "application/json-lines") {
      this.violations.push(`${endpoint}: validation error: Content-Type '${contentType}': send newline-delimited JSON as application/json-lines`);
      throw apiError("validation_error", `Content-Type '${contentType}': send newline-delimited JSON as application/json-lines`);
    }
    if (raw.trimStart().startsWith("[")) {
      this.violations.push(`${endpoint}: validation error: the body is a JSON array: send one event per line (json-lines)`);
      throw apiError("validation_error", "the body is a JSON array: send one event per line (json-lines)");
    }
    const lines = raw.split("\n").map((l) => l.trim()).filter((l) => l !== "");
    if (lines.length === 0) {
      this.violations.push(`${endpoint}: no events in the batch`);
      throw apiError("batch_contains_no_items");
    }

    const validate = this.validators.get(endpoint) as ValidateFunction;
    const parsed: unknown[] = [];
    const errorsInfo: Record<string, number> = {};
    let added = 0;
    const fail = (reason: string): void => {
      errorsInfo[reason] = (errorsInfo[reason] ?? 0) + 1;
    };
    const touched = new Set<FakeTask>();
    lines.forEach((line, i) => {
      let event: unknown;
      try {
        event = JSON.parse(line);
      } catch {
        parsed.push(line);
        this.violations.push(`${endpoint}: line ${i + 1} is not valid JSON (NaN and Infinity cannot travel in JSON; drop them before sending)`);
        fail("Invalid JSON");
        return;
      }
      parsed.push(structuredClone(event));
      if (isObject(event)) {
        for (const [key, since] of Object.entries(spec.since ?? {})) {
          if (key in event && version !== null && compareVersions(version, since) < 0) this.violations.push(`${endpoint}: line ${i + 1}: '${key}' needs API version ${since} or newer (the path asks for ${version}; a server of that version ignores it)`);
        }
        // Unknown keys are stored with the event by the real server: recorded, the event kept.
        for (const path of dropUnknownKeys(validate, event)) this.violations.push(`${endpoint}: line ${i + 1}: unknown key '${path}' (the server stores it with the event, unread)`);
      }
      if (!validate(event)) {
        const msg = `Validation error: ${ajvMessage(validate.errors)}`;
        this.violations.push(`${endpoint}: line ${i + 1}: ${msg}`);
        fail(msg);
        return;
      }
      const ev = event as ScalarEvent;
      if (!Number.isFinite(ev.value)) {
        this.violations.push(`${endpoint}: line ${i + 1}: value is not finite`);
        fail("Validation error: value is not finite");
        return;
      }
      const task = this.backend.acceptsEvents(ev.task, ev.allow_locked === true);
      if (!task) return fail(`Invalid task id ${ev.task}`);
      this.applyScalar(task, ev);
      touched.add(task);
      this.events.push(structuredClone(event as Doc));
      added += 1;
    });
    rec.body = parsed;
    const errors = lines.length - added;
    if (added === 0) throw apiError("events_not_added", undefined, errorsInfo);
    const now = this.backend.iso();
    for (const task of touched) {
      task.last_update = now;
      task.last_change = now;
    }
    return { added, errors, errors_info: errorsInfo };
  }

  /** Updates `last_metrics` as the server does on each scalar: last value (by timestamp), min, max, first, running mean, count; and the task's last_iteration. */
  private applyScalar(task: FakeTask, ev: ScalarEvent): void {
    const mh = md5(ev.metric);
    const vh = md5(ev.variant);
    const byVariant = (task.last_metrics[mh] ??= {});
    const key = `${task.id}\0${mh}\0${vh}`;
    const prev = byVariant[vh];
    if (!prev) {
      byVariant[vh] = {
        metric: ev.metric,
        variant: ev.variant,
        value: ev.value,
        min_value: ev.value,
        max_value: ev.value,
        first_value: ev.value,
        mean_value: ev.value,
        count: 1,
        min_value_iteration: ev.iter,
        max_value_iteration: ev.iter,
        ...(ev.x_axis_label === undefined ? {} : { x_axis_label: ev.x_axis_label }),
      };
      this.lastTimestamps.set(key, ev.timestamp);
    } else {
      const count = (prev.count ?? 1) + 1;
      prev.mean_value = ((prev.mean_value ?? prev.value) * (count - 1) + ev.value) / count;
      prev.count = count;
      if (ev.value < prev.min_value) {
        prev.min_value = ev.value;
        prev.min_value_iteration = ev.iter;
      }
      if (ev.value > prev.max_value) {
        prev.max_value = ev.value;
        prev.max_value_iteration = ev.iter;
      }
      if (ev.timestamp >= (this.lastTimestamps.get(key) ?? -Infinity)) {
        prev.value = ev.value;
        this.lastTimestamps.set(key, ev.timestamp);
      }
      if (ev.x_axis_label !== undefined) prev.x_axis_label = ev.x_axis_label;
    }
    task.last_iteration = Math.max(task.last_iteration ?? 0, ev.iter);
  }
}
