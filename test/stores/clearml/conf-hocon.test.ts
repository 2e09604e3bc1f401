// Issue: clearml.conf files use what pyhocon resolves: `${VAR}` / `${?VAR}`, self-references,
// `include`, and `key += value`. Each is read as the SDK reads it, or refused with the line
// (never the text on it: a value may be a secret).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfSyntaxError, MAX_INCLUDE_DEPTH, mergeConf, parseClearmlConf } from "../../../src/stores/clearml/conf.js";

const env = { CLEARML_HOST: "http://srv:8008", KEY: "AK-1234", SECRET: "s3cr#t$with//parts", PORT: "8008" };

function fails(text: string, options: Parameters<typeof parseClearmlConf>[1] = {}): ConfSyntaxError {
  try {
    parseClearmlConf(text, options);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfSyntaxError);
    return e as ConfSyntaxError;
  }
  throw new Error("parsed, but should not have");
}

describe("${VAR} and ${?VAR}", () => {
  it("reads the environment where the file has no such key; quoted text is never substituted", () => {
    const c = parseClearmlConf(
      `api {
        api_server: \${CLEARML_HOST}
        web_server: "http://"\${?NOPE}"web:8080"
        files_server: http://files:\${PORT}/store   # a comment
        credentials { access_key: \${KEY}, secret_key: \${SECRET} }
        literal: "\${KEY}"
      }`,
      { env },
    );
    expect(c).toEqual({
      api: {
        api_server: "http://srv:8008",
        web_server: "http://web:8080",
        files_server: "http://files:8008/store",
        credentials: { access_key: "AK-1234", secret_key: "s3cr#t$with//parts" },
        literal: "${KEY}",
      },
    });
  });

  it("a key of the file comes before the environment, wherever in the file it is set", () => {
    const c = parseClearmlConf(`a: \${host}\nhost: from-file\nb: \${api.port}\napi { port: 8008 }`, { env: { host: "from-env" } });
    expect(c).toMatchObject({ a: "from-file", b: 8008 });
  });

  it("an optional substitution of nothing drops the key, or keeps what the key held before (HOCON)", () => {
    const c = parseClearmlConf(`api { api_server: http://localhost:8008\n api_server: \${?CLEARML_API_HOST}\n web_server: \${?NOPE} }\nlist: [\${?NOPE}, 1]`, { env: {} });
    expect(c).toEqual({ api: { api_server: "http://localhost:8008" }, list: [1] });
    const d = parseClearmlConf(`api { api_server: http://localhost:8008\n api_server: \${?CLEARML_API_HOST} }`, { env: { CLEARML_API_HOST: "http://env:8008" } });
    expect(d).toEqual({ api: { api_server: "http://env:8008" } });
  });

  it("a substitution of an object copies it, and keys written over it merge with it", () => {
    const c = parseClearmlConf(`base { a: 1, b { c: 2 } }\ncopy: \${base}\ncopy.b.d: 3`);
    expect(c).toEqual({ base: { a: 1, b: { c: 2 } }, copy: { a: 1, b: { c: 2, d: 3 } } });
  });

  it("the old one-argument call still works; a ${VAR} that is nowhere is an error with the line and the variable's name, never a value", () => {
    expect(parseClearmlConf(`a: 1`)).toEqual({ a: 1 });
    const e = fails(`x: "secret-value-1"\napi_server: \${CLEARML_API_HOST}`);
    expect(e.line).toBe(2);
    expect(e.message).toBe("line 2: ${CLEARML_API_HOST} is neither a key of the file nor a variable of the environment");
    // A name that is not a plain identifier is not quoted either.
    expect(fails(`k: \${"secret value" x}`).message).toBe("line 1: a substitution is neither a key of the file nor a variable of the environment");
  });

  it("a cycle, an unterminated or an empty substitution, and joining an object with text are errors with the line", () => {
    expect(fails(`a: \${b}\nb: \${a}`).message).toMatch(/^line \d: substitutions refer to each other in a cycle$/);
    expect(fails(`a: 1\nb: \${X`).message).toBe("line 2: unterminated substitution (a '${' without its '}')");
    expect(fails(`a: \${}`).message).toBe("line 1: an empty substitution");
    expect(fails(`o { k: 1 }\nu: http://\${o}`).message).toBe("line 2: ${o} is an object or a list and cannot be joined with text");
  });

  it("substitutions that would build without bound are refused", () => {
    const lines = ["a0 = xxxxxxxxxxxxxxxx"];
    for (let k = 1; k < 40; k++) lines.push(`a${k} = \${a${k - 1}}\${a${k - 1}}`);
    expect(fails(lines.join("\n")).message).toMatch(/longer than 1048576 characters/);
    const objs = ["o0 { a: 1, b: 2 }"];
    for (let k = 1; k < 40; k++) objs.push(`o${k} = [\${o${k - 1}}, \${o${k - 1}}]`);
    expect(fails(objs.join("\n")).message).toMatch(/copy more than 100000 values/);
  });

  it("property: a quoted string is kept as written, '${' and all", () => {
    fc.assert(
      fc.property(fc.string().filter((s) => !/["\\\n\r]/.test(s)), (s) => {
        expect(parseClearmlConf(`k: "\${X}${s}"`, { env: { X: "no" } })).toEqual({ k: `\${X}${s}` });
      }),
    );
  });
});

describe("self-references", () => {
  it("${x} inside the definition of x reads its earlier value (the environment's when there is none)", () => {
    const c = parseClearmlConf(`path: /a\npath: \${path}:/b\npath = \${path}":/c"\nHOME: \${HOME}/x\nobj { a: 1 }\nobj: \${obj}`, { env: { HOME: "/home/u" } });
    expect(c).toEqual({ path: "/a:/b:/c", HOME: "/home/u/x", obj: { a: 1 } });
  });

  it("with no earlier value it is an error (an optional one drops the key)", () => {
    expect(fails(`a: 1\nx: \${x}/more`).message).toBe("line 2: ${x} refers to the key it defines, which has no earlier value");
    expect(parseClearmlConf(`x: \${?x}`)).toEqual({});
  });
});

describe("key += value", () => {
  it("appends to a list, or starts one", () => {
    expect(parseClearmlConf(`a: [1]\na += 2\nb += x\nb += { k: \${V} }\nsdk.list += "q"`, { env: { V: "v" } })).toEqual({ a: [1, 2], b: ["x", { k: "v" }], sdk: { list: ["q"] } });
  });

  it("on a key that holds something else it is an error with the line", () => {
    expect(fails(`a: "s3cret"\na += 2`).message).toBe("line 2: '+=' appends to a list, and the key holds something else");
    expect(fails(`a: \${X}\na += 2`, { env: { X: "1" } }).message).toBe("line 2: '+=' after a substitution is not supported; write the whole list");
  });

  it("a key may still hold '+' where no '=' follows it", () => {
    expect(parseClearmlConf(`a+b = 1`)).toEqual({ "a+b": 1 });
  });
});

describe("include", () => {
  const files: Record<string, string> = {
    "/etc/clearml/creds.conf": `credentials { access_key: \${KEY}, secret_key: "from-include" }`,
    "/etc/clearml/sub/more.conf": `include "../creds.conf"\nextra: 1`,
    "/abs/other.conf": `web_server: http://web:8080`,
    "/etc/clearml/bad.conf": `ok: 1\nbroken: "unterminated`,
    "/etc/clearml/loop.conf": `include "loop.conf"`,
  };
  const readFile = (p: string): string | undefined => files[p];
  const at = { env, path: "/etc/clearml/clearml.conf", readFile };

  it("include \"file\", file(...), required(file(...)): relative to the including file, into the object it stands in", () => {
    const c = parseClearmlConf(`api {\n  api_server: \${CLEARML_HOST}\n  include "creds.conf"\n  include file("/abs/other.conf")\n}\nnested { include required(file("sub/more.conf")) }`, at);
    expect(c).toEqual({
      api: { api_server: "http://srv:8008", credentials: { access_key: "AK-1234", secret_key: "from-include" }, web_server: "http://web:8080" },
      nested: { credentials: { access_key: "AK-1234", secret_key: "from-include" }, extra: 1 },
    });
  });

  it("a missing include is skipped, as pyhocon skips it; a missing required one is an error with the line", () => {
    expect(parseClearmlConf(`a: 1\ninclude "nope.conf"\nb: 2`, at)).toEqual({ a: 1, b: 2 });
    expect(fails(`a: 1\ninclude required("nope.conf")`, at).message).toBe("line 2: the required include /etc/clearml/nope.conf does not exist");
  });

  it("an error in an included file names that file and its line", () => {
    const e = fails(`a: 1\ninclude "bad.conf"`, at);
    expect(e.file).toBe("/etc/clearml/bad.conf");
    expect(e.message).toBe("line 2 of the included /etc/clearml/bad.conf: unterminated quoted string");
  });

  it("includes nest at most MAX_INCLUDE_DEPTH deep (a file that includes itself)", () => {
    expect(fails(`include "loop.conf"`, at).message).toBe(`line 1 of the included /etc/clearml/loop.conf: includes nest deeper than ${MAX_INCLUDE_DEPTH} levels (does a file include itself?)`);
  });

  it("url(...), package(...), wildcards, an unreadable file, or no reader at all: errors with the line", () => {
    expect(fails(`a: 1\ninclude url("http://x/c.conf")`, at).message).toBe("line 2: include url(...) is not supported; include a file by its path");
    expect(fails(`include "https://x/c.conf"`, at).message).toBe("line 1: include url(...) is not supported; include a file by its path");
    expect(fails(`include package("p:c.conf")`, at).message).toMatch(/^line 1: include package/);
    expect(fails(`include "conf.d/*.conf"`, at).message).toBe("line 1: an include with a wildcard is not supported; include each file by its path");
    const denied = Object.assign(new Error("EACCES: permission denied, open '/etc/clearml/x'"), { code: "EACCES" });
    expect(
      fails(`include "x.conf"`, {
        ...at,
        readFile: () => {
          throw denied;
        },
      }).message,
    ).toBe("line 1: cannot read the included /etc/clearml/x.conf (EACCES)");
    expect(fails(`include "creds.conf"`).message).toBe("line 1: include is not supported here");
  });

  it("'include' as an ordinary key is still a key", () => {
    expect(parseClearmlConf(`include = 3\ninclude_subprojects: true`)).toEqual({ include: 3, include_subprojects: true });
  });
});

describe("mergeConf", () => {
  it("merges objects key by key, the second winning, and changes neither", () => {
    const a = { api: { api_server: "a", credentials: { access_key: "k" } }, x: [1] };
    const b = { api: { api_server: "b" }, x: [2] };
    expect(mergeConf(a, b)).toEqual({ api: { api_server: "b", credentials: { access_key: "k" } }, x: [2] });
    expect(a.api.api_server).toBe("a");
  });
});
