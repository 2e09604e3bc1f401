import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BackendError } from "../../../src/core/errors.js";
import { ConfSyntaxError, confGet, MAX_CONF_DEPTH, parseClearmlConf } from "../../../src/stores/clearml/conf.js";
import { resolveClearmlConnection } from "../../../src/stores/clearml/connection.js";

// The shape `clearml-init` writes, with the secrets and sdk section real files carry.
const REAL = `# ClearML SDK configuration file
api {
    # Notice: 'host' is the api server (default port 8008), not the web server.
    web_server: http://localhost:8080
    api_server: http://localhost:8008
    files_server: http://localhost:8081
    # Credentials are generated using the webapp, http://localhost:8080//settings
    # Override with os environment: CLEARML_API_ACCESS_KEY / CLEARML_API_SECRET_KEY
    credentials {"access_key": "ABCD1234EFGH5678", "secret_key": "s3cr#t$with//and!&(parts"}
}
sdk {
    # ClearML - default SDK configuration

    storage {
        cache {
            # Defaults to <system_temp_folder>/clearml_cache
            default_base_dir: "~/.clearml/cache"
            default_cache_manager_size: 100
        }
        direct_access: [
            # Objects matching are considered to be available for direct access
            { url: "file://*" },
        ]
    }
    metrics {
        file_history_size: 100
        matplotlib_untitled_history_size: 100
        plot_max_num_digits: 5
        images {
            format: JPEG
            quality: 87
            subsampling: 0
        }
    }
    google.storage {
        # project: "clearml"
        credentials = [
            # {bucket: "my-bucket", project: "clearml", credentials_json: "/path/to/credentials.json"},
        ]
    }
    aws {
        s3 {
            region: ""
            key: ""
            secret: ""
            use_credentials_chain: False
        }
    }
    development {
        task_reuse_time_window_in_hours: 72.0
        vcs_repo_detect_async: True
        store_uncommitted_code_diff: true
        support_stopping: true
        default_output_uri: ""
        log_os_environments: []
    }
}
`;

describe("parseClearmlConf", () => {
  it("reads the file clearml-init writes: unquoted URLs with ports, inline credential objects, quoted secrets with # $ //", () => {
    const c = parseClearmlConf(REAL);
    expect(confGet(c, "api.api_server")).toBe("http://localhost:8008");
    expect(confGet(c, "api.web_server")).toBe("http://localhost:8080");
    expect(confGet(c, "api.credentials.access_key")).toBe("ABCD1234EFGH5678");
    expect(confGet(c, "api.credentials.secret_key")).toBe("s3cr#t$with//and!&(parts");
    expect(confGet(c, "sdk.google.storage.credentials")).toEqual([]);
    expect(confGet(c, "sdk.aws.s3.use_credentials_chain")).toBe(false);
    expect(confGet(c, "sdk.development.vcs_repo_detect_async")).toBe(true);
    expect(confGet(c, "sdk.development.task_reuse_time_window_in_hours")).toBe(72);
    expect(confGet(c, "sdk.storage.direct_access")).toEqual([{ url: "file://*" }]);
    expect(confGet(c, "sdk.metrics.images.format")).toBe("JPEG");
  });

  it("accepts = or :, // comments, dotted keys, merging objects, trailing commas, a root in braces", () => {
    const c = parseClearmlConf(`{
      // a comment
      api.api_server = "https://api.example.com:443"   // trailing comment
      api { credentials { access_key = "A" } }
      api { credentials { secret_key = "B" } }
      list = [1, 2, 3,]
      quoted = "123"
    }`);
    expect(c).toEqual({ api: { api_server: "https://api.example.com:443", credentials: { access_key: "A", secret_key: "B" } }, list: [1, 2, 3], quoted: "123" });
  });

  it("names the line of a syntax error", () => {
    expect(() => parseClearmlConf("api {\n  api_server: http://x:8008\n  credentials {\n")).toThrow(ConfSyntaxError);
    try {
      parseClearmlConf('a {\n b: 1\n}\n}\n');
    } catch (e) {
      expect((e as ConfSyntaxError).line).toBe(4);
    }
    expect(() => parseClearmlConf('api { secret_key: "unterminated\n }')).toThrow(/line 1: unterminated quoted string/);
  });
});

describe("resolveClearmlConnection", () => {
  const dir = () => mkdtempSync(join(tmpdir(), "expflow-clearml-"));

  it("reads ~/clearml.conf, and the environment overrides it field by field", () => {
    const home = dir();
    writeFileSync(join(home, "clearml.conf"), REAL);
    const a = resolveClearmlConnection({}, home);
    expect(a).toMatchObject({ apiServer: "http://localhost:8008", webServer: "http://localhost:8080", accessKey: "ABCD1234EFGH5678", secretKey: "s3cr#t$with//and!&(parts" });
    const b = resolveClearmlConnection({ CLEARML_API_HOST: "http://other:8008/", TRAINS_API_ACCESS_KEY: "K2" }, home);
    expect(b).toMatchObject({ apiServer: "http://other:8008", accessKey: "K2", secretKey: "s3cr#t$with//and!&(parts" });
    expect(b.sources.apiServer).toBe("CLEARML_API_HOST");
  });

  it("verifyCertificate: true unless CLEARML_API_HOST_VERIFY_CERT or api.verify_certificate says false", () => {
    const home = dir();
    writeFileSync(join(home, "clearml.conf"), REAL);
    expect(resolveClearmlConnection({}, home).verifyCertificate).toBe(true);
    expect(resolveClearmlConnection({ CLEARML_API_HOST_VERIFY_CERT: "0" }, home).verifyCertificate).toBe(false);
    const file = join(dir(), "c.conf");
    writeFileSync(file, 'api { api_server: https://srv:8008\n verify_certificate: False\n credentials { access_key: "a", secret_key: "b" } }');
    expect(resolveClearmlConnection({ CLEARML_CONFIG_FILE: file }, home).verifyCertificate).toBe(false);
    expect(resolveClearmlConnection({ CLEARML_CONFIG_FILE: file, CLEARML_API_HOST_VERIFY_CERT: "true" }, home).verifyCertificate).toBe(true);
  });

  it("CLEARML_CONFIG_FILE names the only file read; api.host is the fallback for api_server", () => {
    const home = dir();
    writeFileSync(join(home, "clearml.conf"), REAL);
    const other = join(dir(), "team.conf");
    writeFileSync(other, 'api { host: "http://team:8008", credentials { access_key: "T", secret_key: "U" } }');
    expect(resolveClearmlConnection({ CLEARML_CONFIG_FILE: other }, home)).toMatchObject({ apiServer: "http://team:8008", accessKey: "T" });
  });

  it("missing configuration is exit 4 naming what is missing and how to set it, never a secret", () => {
    const home = dir();
    let err: unknown;
    try {
      resolveClearmlConnection({ CLEARML_API_SECRET_KEY: "very-secret-value" }, home);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).exitCode).toBe(4);
    expect((err as BackendError).message).toContain("CLEARML_API_HOST");
    expect((err as BackendError).message).toContain("CLEARML_API_ACCESS_KEY");
    expect(`${(err as BackendError).message} ${(err as BackendError).hint}`).not.toContain("very-secret-value");
    expect(() => resolveClearmlConnection({ CLEARML_CONFIG_FILE: join(home, "nope.conf") }, home)).toThrow(/CLEARML_CONFIG_FILE names .* which does not exist/);
  });

  it("a file that does not parse is exit 4 with the line, and the secret is not quoted", () => {
    const home = dir();
    writeFileSync(join(home, "clearml.conf"), 'api {\n credentials { secret_key: "abc#secret\n }\n');
    let err: unknown;
    try {
      resolveClearmlConnection({}, home);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BackendError);
    expect((err as Error).message).toMatch(/clearml\.conf: line 2: unterminated quoted string/);
    expect((err as Error).message).not.toContain("abc#secret");
  });
});

describe("parseClearmlConf: bounded depth", () => {
  it("refuses objects or arrays nested deeper than MAX_CONF_DEPTH with the line, without overflowing the stack", () => {
    expect(() => parseClearmlConf(`api ${"{a ".repeat(20_000)}${"}".repeat(20_000)}`)).toThrow(new ConfSyntaxError(`objects and arrays nest deeper than ${MAX_CONF_DEPTH} levels`, 1));
    expect(() => parseClearmlConf(`x = 1\ny = ${"[".repeat(20_000)}${"]".repeat(20_000)}`)).toThrow(/^line 2: objects and arrays nest deeper than 64 levels$/);
  });

  it("refuses a dotted key of more than MAX_CONF_DEPTH parts", () => {
    expect(() => parseClearmlConf(`${Array.from({ length: 20_000 }, () => "a").join(".")} = 1`)).toThrow(/^line 1: a dotted key has more than 64 parts$/);
  });

  it("takes nesting up to the limit", () => {
    const conf = parseClearmlConf(`api ${"{a ".repeat(MAX_CONF_DEPTH - 1)}= 1${"}".repeat(MAX_CONF_DEPTH - 1)}`);
    expect(JSON.stringify(conf)).toContain(":1");
  });
});
