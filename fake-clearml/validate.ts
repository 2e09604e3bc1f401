/**
 * How the fake reads a request body: as leniently as the real server, recording as violations
 * what the real server would let pass silently. See `schemas.ts` for the schemas.
 *
 * - Unknown keys (at any depth the schema describes) are dropped and recorded: the real server's
 *   request models and `parse_from_call` drop them silently.
 * - Keys newer than the path's API version are recorded; they are dropped only when the fake's
 *   own announced API version is older than the key (the real server reads its request model
 *   whatever the path version says).
 * - Keys the server reads and ignores are recorded.
 * - A non-boolean in a boolean key is read by Python truthiness (recorded). With a request
 *   model, `null` is absent, and wrong types or missing required keys answer 400/12 (recorded).
 */
import type { ErrorObject, ValidateFunction } from "ajv";
import { apiError, type ApiError } from "./errors.js";
import type { EndpointSpec } from "./schemas.js";

type Doc = Record<string, unknown>;

function isObject(v: unknown): v is Doc {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function versionParts(v: string): [number, number] {
  const [major, minor] = v.split(".");
  return [Number(major), Number(minor ?? 0)];
}

/** -1, 0 or 1 as version `a` is older, equal or newer than `b`. */
export function compareVersions(a: string, b: string): number {
  const [am, an] = versionParts(a);
  const [bm, bn] = versionParts(b);
  return am !== bm ? Math.sign(am - bm) : Math.sign(an - bn);
}

/** Python's bool(): what jsonmodels' BoolField makes of a value. */
export function pythonTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return Object.keys(v).length > 0;
  return true;
}

/** A readable list of ajv errors ("body.script.binary must be string; ..."). */
export function ajvMessage(errors: readonly ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map((e) => {
      const where = e.instancePath === "" ? "body" : `body${e.instancePath.replace(/\//g, ".")}`;
      const extra = e.keyword === "additionalProperties" ? `: '${String((e.params as { additionalProperty?: unknown }).additionalProperty)}'` : "";
      return `${where} ${e.message ?? e.keyword}${extra}`;
    })
    .join("; ");
}

function pointerTokens(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer.slice(1).split("/").map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function at(doc: unknown, tokens: readonly string[]): unknown {
  let cur = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObject(cur)) cur = cur[t];
    else return undefined;
  }
  return cur;
}

/** Where the unknown key sits, for the violation text: `script.repo`. */
function keyPath(instancePath: string, key: string): string {
  return [...pointerTokens(instancePath), key].join(".");
}

/**
 * Drops every key the schema does not describe from `body` (in place) and returns their paths.
 * Other schema errors are left in `validate.errors` (null when the body is valid).
 */
export function dropUnknownKeys(validate: ValidateFunction, body: unknown): string[] {
  const dropped: string[] = [];
  for (let round = 0; round < 20; round++) {
    if (validate(body)) return dropped;
    const unknown = (validate.errors ?? []).filter((e) => e.keyword === "additionalProperties");
    if (unknown.length === 0) return dropped;
    for (const e of unknown) {
      const key = String((e.params as { additionalProperty?: unknown }).additionalProperty);
      const holder = at(body, pointerTokens(e.instancePath));
      if (isObject(holder) && key in holder) {
        delete holder[key];
        dropped.push(keyPath(e.instancePath, key));
      }
    }
  }
  return dropped;
}

/**
 * Reads a JSON body for `endpoint` as the real server does (see the module comment), mutating
 * `body` and passing each violation to `record`. `pathVersion` is the version in the request
 * path (null: none, the newest); `serverVersion` the version the fake announces.
 *
 * @throws {ApiError} 400/12 for a body that is not an object, a wrong type or a missing required key.
 */
export function readBody(
  endpoint: string,
  spec: EndpointSpec,
  validate: ValidateFunction,
  body: unknown,
  pathVersion: string | null,
  serverVersion: string,
  record: (violation: string) => void,
): asserts body is Doc {
  const fail = (detail: string): ApiError => {
    record(`${endpoint}: validation error: ${detail}`);
    return apiError("validation_error", detail);
  };
  if (!isObject(body)) throw fail("the body is not a JSON object");
  const props = isObject(spec.schema["properties"]) ? (spec.schema["properties"] as Record<string, Doc>) : {};

  // A request model reads null as absent; every endpoint reads a flag by Python truthiness
  // (jsonmodels' BoolField, or `if data.get("search_hidden")` where there is no model).
  for (const [key, value] of Object.entries(body)) {
    const isFlag = props[key]?.["type"] === "boolean";
    if (value === null && (spec.model || isFlag) && key in props) delete body[key];
    else if (isFlag && typeof value !== "boolean") {
      const read = pythonTruthy(value);
      record(`${endpoint}: '${key}' is ${JSON.stringify(value)}, not a boolean: the server reads it as ${read ? "True" : "False"} (Python truthiness)`);
      body[key] = read;
    }
  }

  for (const [key, since] of Object.entries(spec.since ?? {})) {
    if (!(key in body)) continue;
    if (pathVersion !== null && compareVersions(pathVersion, since) < 0) {
      record(`${endpoint}: '${key}' needs API version ${since} or newer (the path asks for ${pathVersion}; a server of that version ignores it): pin v${since}`);
    }
    if (compareVersions(serverVersion, since) < 0) delete body[key];
  }

  for (const [key, why] of Object.entries(spec.ignored ?? {})) {
    if (key in body) record(`${endpoint}: '${key}' is ignored: ${why}`);
  }

  for (const path of dropUnknownKeys(validate, body)) {
    record(`${endpoint}: unknown key '${path}' ignored (the real server drops it silently)`);
  }
  if (!validate(body)) {
    const detail = ajvMessage(validate.errors);
    throw fail(spec.model ? detail : `${detail} (the real server checks nothing here; the fake cannot read it)`);
  }
}
