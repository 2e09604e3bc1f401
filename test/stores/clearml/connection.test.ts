// Issue: the configuration is found as the SDK finds it: CLEARML_CONFIG_FILE `~`-expanded and
// "no file" when it does not exist, ~/trains.conf under ~/clearml.conf, CLEARML_AUTH_TOKEN in
// place of the keys, and api.verify_certificate naming a CA bundle.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BackendError } from "../../../src/core/errors.js";
import { readCaBundle, readClearmlConf, resolveClearmlConnection } from "../../../src/stores/clearml/connection.js";

const dir = () => mkdtempSync(join(tmpdir(), "expflow-clearml-conn-"));
const CONF = (server: string, key = "FILEKEY", secret = "FILESECRET") => `api {\n api_server: ${server}\n credentials { access_key: "${key}", secret_key: "${secret}" }\n}\n`;

function failure(f: () => unknown): BackendError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BackendError);
    return e as BackendError;
  }
  throw new Error("did not throw");
}

describe("CLEARML_CONFIG_FILE", () => {
  it("is ~-expanded (and TRAINS_CONFIG_FILE too)", () => {
    const home = dir();
    mkdirSync(join(home, "cfg"));
    writeFileSync(join(home, "cfg", "team.conf"), CONF("http://team:8008"));
    expect(resolveClearmlConnection({ CLEARML_CONFIG_FILE: "~/cfg/team.conf" }, home)).toMatchObject({ apiServer: "http://team:8008", sources: { apiServer: join(home, "cfg", "team.conf") } });
    expect(resolveClearmlConnection({ TRAINS_CONFIG_FILE: "~/cfg/team.conf" }, home).apiServer).toBe("http://team:8008");
  });

  it("a file that does not exist is no file when the environment supplies the server and the credentials (as the SDK)", () => {
    const home = dir();
    writeFileSync(join(home, "clearml.conf"), CONF("http://home:8008"));
    const c = resolveClearmlConnection({ CLEARML_CONFIG_FILE: "~/nope.conf", CLEARML_API_HOST: "http://env:8008", CLEARML_API_ACCESS_KEY: "EK", CLEARML_API_SECRET_KEY: "ES" }, home);
    expect(c).toMatchObject({ apiServer: "http://env:8008", accessKey: "EK", secretKey: "ES", sources: { apiServer: "CLEARML_API_HOST", credentials: "CLEARML_API_ACCESS_KEY, CLEARML_API_SECRET_KEY" } });
    expect(readClearmlConf({ CLEARML_CONFIG_FILE: "~/nope.conf" }, home)).toBeUndefined();
  });

  it("when the environment does not make up for it: exit 4 naming the missing file and what is missing (never ~/clearml.conf instead)", () => {
    const home = dir();
    writeFileSync(join(home, "clearml.conf"), CONF("http://home:8008"));
    const e = failure(() => resolveClearmlConnection({ CLEARML_CONFIG_FILE: "~/nope.conf", CLEARML_API_HOST: "http://env:8008", CLEARML_API_ACCESS_KEY: "EK" }, home));
    expect(e.code).toBe("E_CLEARML_CONFIG");
    expect(e.exitCode).toBe(4);
    expect(e.message).toBe(`CLEARML_CONFIG_FILE names ${join(home, "nope.conf")}, which does not exist, and the environment does not supply the secret key (CLEARML_API_SECRET_KEY, or api.credentials.secret_key)`);
    expect(e.message).not.toContain("EK");
  });
});

describe("~/trains.conf and ~/clearml.conf", () => {
  it("both are read, clearml.conf winning key by key; each source names the file the value came from", () => {
    const home = dir();
    writeFileSync(join(home, "trains.conf"), `api { api_server: http://old:8008\n web_server: http://old-web:8080\n credentials { access_key: "OLDKEY", secret_key: "OLDSECRET" } }`);
    writeFileSync(join(home, "clearml.conf"), `api { api_server: http://new:8008 }`);
    const c = resolveClearmlConnection({}, home);
    expect(c).toMatchObject({ apiServer: "http://new:8008", webServer: "http://old-web:8080", accessKey: "OLDKEY", secretKey: "OLDSECRET" });
    expect(c.sources).toEqual({ apiServer: join(home, "clearml.conf"), credentials: join(home, "trains.conf") });
    expect(readClearmlConf({}, home)?.files.map((f) => f.path)).toEqual([join(home, "trains.conf"), join(home, "clearml.conf")]);
  });

  it("~/trains.conf alone is read; with CLEARML_CONFIG_FILE set neither is", () => {
    const home = dir();
    writeFileSync(join(home, "trains.conf"), CONF("http://old:8008"));
    expect(resolveClearmlConnection({}, home).apiServer).toBe("http://old:8008");
    const other = join(dir(), "c.conf");
    writeFileSync(other, `api { api_server: http://named:8008 }`);
    expect(failure(() => resolveClearmlConnection({ CLEARML_CONFIG_FILE: other }, home)).message).toContain("missing the access key");
  });

  it("${VAR} reads the environment and includes are read beside the file", () => {
    const home = dir();
    writeFileSync(join(home, "creds.conf"), `credentials { access_key: \${MY_KEY}, secret_key: "inc-secret" }`);
    writeFileSync(join(home, "clearml.conf"), `api {\n api_server: \${?SERVER_URL}\n include "creds.conf"\n}`);
    expect(resolveClearmlConnection({ SERVER_URL: "http://sub:8008", MY_KEY: "K-from-env" }, home)).toMatchObject({ apiServer: "http://sub:8008", accessKey: "K-from-env", secretKey: "inc-secret" });
    // Unset: the optional substitution drops the key, and the error says what is missing.
    expect(failure(() => resolveClearmlConnection({ MY_KEY: "k" }, home)).message).toContain("missing the API server");
    const e = failure(() => resolveClearmlConnection({ SERVER_URL: "http://sub:8008" }, home));
    expect(e.code).toBe("E_CLEARML_CONFIG");
    expect(e.message).toBe(`cannot parse the ClearML configuration ${join(home, "clearml.conf")}: line 1 of the included ${join(home, "creds.conf")}: \${MY_KEY} is neither a key of the file nor a variable of the environment`);
  });
});

describe("CLEARML_AUTH_TOKEN", () => {
  it("stands in for the keys: neither is required, file keys are not used", () => {
    const home = dir();
    writeFileSync(join(home, "clearml.conf"), CONF("http://home:8008"));
    const c = resolveClearmlConnection({ CLEARML_AUTH_TOKEN: "tok.en.value" }, home);
    expect(c).toMatchObject({ apiServer: "http://home:8008", authToken: "tok.en.value", accessKey: "", secretKey: "", sources: { credentials: "CLEARML_AUTH_TOKEN" } });
    const bare = resolveClearmlConnection({ CLEARML_API_HOST: "http://h:8008", CLEARML_AUTH_TOKEN: "t" }, dir());
    expect(bare).toMatchObject({ authToken: "t", sources: { apiServer: "CLEARML_API_HOST", credentials: "CLEARML_AUTH_TOKEN" } });
    expect(resolveClearmlConnection({}, home).authToken).toBeNull();
  });

  it("without a server it is still not configured, and the token is not printed", () => {
    const e = failure(() => resolveClearmlConnection({ CLEARML_AUTH_TOKEN: "secret-token-value" }, dir()));
    expect(e.code).toBe("E_CLEARML_NOT_CONFIGURED");
    expect(e.message).toContain("the API server");
    expect(e.message).not.toContain("access key");
    expect(`${e.message} ${e.hint ?? ""}`).not.toContain("secret-token-value");
  });
});

describe("api.verify_certificate as a CA bundle", () => {
  const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

  it("a path (env or file; relative to the working directory, ~ expanded) is the CA bundle; the SDK's true/false words stay booleans", () => {
    const home = dir();
    const cwd = dir();
    writeFileSync(join(cwd, "ca.pem"), PEM);
    writeFileSync(join(home, "ca.pem"), PEM);
    writeFileSync(join(home, "clearml.conf"), `${CONF("https://srv:8008")}api.verify_certificate: ~/ca.pem\n`);
    expect(resolveClearmlConnection({}, home, { cwd })).toMatchObject({ verifyCertificate: true, caBundle: join(home, "ca.pem") });
    expect(resolveClearmlConnection({ CLEARML_API_HOST_VERIFY_CERT: "ca.pem" }, home, { cwd }).caBundle).toBe(join(cwd, "ca.pem"));
    for (const [text, verify] of [["f", false], ["n", false], ["off", false], ["0", false], ["t", true], ["y", true], ["True", true]] as const) {
      expect(resolveClearmlConnection({ CLEARML_API_HOST_VERIFY_CERT: text }, home, { cwd }), text).toMatchObject({ verifyCertificate: verify, caBundle: null });
    }
    expect(readCaBundle(join(cwd, "ca.pem"))).toBe(PEM);
  });

  it("a bundle that does not exist, a directory, or a file without a certificate: exit 4 E_CLEARML_CONFIG naming it", () => {
    const home = dir();
    writeFileSync(join(home, "clearml.conf"), `${CONF("https://srv:8008")}api.verify_certificate: "/nope/ca.pem"\n`);
    const e = failure(() => resolveClearmlConnection({}, home));
    expect(e).toMatchObject({ code: "E_CLEARML_CONFIG", exitCode: 4 });
    expect(e.message).toBe(`api.verify_certificate in ${join(home, "clearml.conf")} names the CA bundle /nope/ca.pem, which does not exist`);
    expect(failure(() => resolveClearmlConnection({ CLEARML_API_HOST_VERIFY_CERT: home }, home)).message).toBe(`CLEARML_API_HOST_VERIFY_CERT names the CA bundle ${home}, which is not a file`);
    writeFileSync(join(home, "empty.pem"), "not a certificate");
    expect(failure(() => readCaBundle(join(home, "empty.pem"))).message).toBe(`the CA bundle ${join(home, "empty.pem")} holds no PEM certificate`);
  });
});
