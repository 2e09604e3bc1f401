// Issue: api.verify_certificate (or CLEARML_API_HOST_VERIFY_CERT) naming a CA bundle is the trust
// store of the requests, as in the SDK. A real HTTPS server on 127.0.0.1 with a certificate from
// a CA made here (openssl), in front of the fake server: trusted with the bundle, refused
// (exit 4, saying how to trust it) without.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BackendError } from "../../../src/core/errors.js";
import type { RequestInfo } from "../../../src/stores/clearml/client.js";
import { ClearmlClient } from "../../../src/stores/clearml/client.js";
import { FakeClearml } from "../../../fake-clearml/server.js";
import { runInProcess, tempDir } from "../../helpers/cli.js";

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A CA, and a server certificate it signs for 127.0.0.1 and localhost; `other` is a CA that signs nothing here. */
function makePki(dir: string): { ca: string; caPath: string; other: string; key: string; cert: string } {
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  for (const name of ["ca", "other"]) {
    ssl("req", "-x509", ...ec, "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "2", "-subj", `/CN=expflow test ${name}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  }
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n");
  ssl("req", ...ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1");
  ssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf");
  const read = (f: string) => readFileSync(join(dir, f), "utf8");
  return { ca: read("ca.pem"), caPath: join(dir, "ca.pem"), other: read("other.pem"), key: read("srv.key"), cert: read("srv.pem") };
}

const enabled = hasOpenssl();
let fake: FakeClearml;
let tls: Server;
let url: string;
let pki: ReturnType<typeof makePki>;

beforeAll(async () => {
  if (!enabled) return;
  pki = makePki(mkdtempSync(join(tmpdir(), "expflow-tls-")));
  fake = await FakeClearml.start();
  const target = new URL(fake.url);
  // TLS in front of the fake: every request is passed on as it came.
  tls = createServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => tls.listen(0, "127.0.0.1", r));
  url = `https://127.0.0.1:${(tls.address() as AddressInfo).port}`;
});
afterEach(() => {
  if (enabled) fake.assertClean();
});
afterAll(async () => {
  if (!enabled) return;
  tls.closeAllConnections();
  await new Promise<void>((r) => tls.close(() => r()));
  await fake.close();
});

describe.skipIf(!enabled)("a CA bundle (openssl makes the certificates)", () => {
  it("the client trusts a server whose certificate the bundle's CA signed", async () => {
    fake.resetCounts();
    const c = new ClearmlClient({ apiServer: url, accessKey: fake.accessKey, secretKey: fake.secretKey, ca: pki.ca });
    await expect(c.call("server.info")).resolves.toMatchObject({ api_version: "2.34" });
    expect(fake.requests.map((r) => `${r.endpoint} ${r.version} ${r.status}`)).toEqual(["auth.login 2.26 200", "server.info 2.26 200"]);
  });

  it("without the bundle: exit 4 E_CLEARML_TLS saying how to trust it, not retried", async () => {
    fake.resetCounts();
    const log: RequestInfo[] = [];
    const c = new ClearmlClient({ apiServer: url, accessKey: fake.accessKey, secretKey: fake.secretKey, sleep: async () => undefined, onRequest: (r) => log.push(r) });
    const e = (await c.call("server.info").catch((x: unknown) => x)) as BackendError;
    expect(e).toBeInstanceOf(BackendError);
    expect(e).toMatchObject({ code: "E_CLEARML_TLS", exitCode: 4 });
    expect(e.message).toMatch(new RegExp(`^cannot trust the TLS certificate of ClearML at ${url} \\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\\)$`));
    expect(e.hint).toContain("set api.verify_certificate in clearml.conf (or CLEARML_API_HOST_VERIFY_CERT) to the path of its CA bundle");
    expect(log).toHaveLength(1);
    expect(fake.count()).toBe(0);
  });

  it("a bundle of another CA: E_CLEARML_TLS saying the bundle did not sign it", async () => {
    const c = new ClearmlClient({ apiServer: url, accessKey: fake.accessKey, secretKey: fake.secretKey, ca: pki.other, maxRetries: 0 });
    const e = (await c.login().catch((x: unknown) => x)) as BackendError;
    expect(e).toMatchObject({ code: "E_CLEARML_TLS", exitCode: 4 });
    expect(e.hint).toContain("did not sign the server's certificate");
  });

  it("the CLI: CLEARML_API_HOST_VERIFY_CERT or api.verify_certificate naming the bundle works; without it exit 4", async () => {
    const env = { CLEARML_API_HOST: url, CLEARML_API_ACCESS_KEY: fake.accessKey, CLEARML_API_SECRET_KEY: fake.secretKey, NO_COLOR: "1", HOME: tempDir() };
    const ok = await runInProcess(["clearml", "status", "--json"], { env: { ...env, CLEARML_API_HOST_VERIFY_CERT: pki.caPath } });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ server: url, reachable: true, credentials_ok: true });
    const conf = join(tempDir(), "clearml.conf");
    writeFileSync(conf, `api {\n api_server: ${url}\n verify_certificate: ${pki.caPath}\n credentials { access_key: "${fake.accessKey}", secret_key: "${fake.secretKey}" }\n}\n`);
    const fromFile = await runInProcess(["clearml", "status"], { env: { CLEARML_CONFIG_FILE: conf, NO_COLOR: "1", HOME: tempDir() } });
    expect(fromFile.code, fromFile.stderr).toBe(0);
    const refused = await runInProcess(["clearml", "status", "--json"], { env });
    expect(refused.code).toBe(4);
    expect(JSON.parse(refused.stderr)).toMatchObject({ error: { code: "E_CLEARML_TLS" } });
    for (const r of [ok, fromFile, refused]) expect(r.stdout + r.stderr).not.toContain(fake.secretKey);
  });
});
