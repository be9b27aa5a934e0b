// The one extensions loader: upstream's name resolution (exact name first across every module, then
// the first class containing it), module files named directly, and the messages of each failure.

import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExtensionError, findExtensionClass } from "./loader.ts";

const dir = mkdtempSync(join(tmpdir(), "tbgw-ext-loader-"));
const ext = join(dir, "extensions", "serial");
mkdirSync(ext, { recursive: true });
writeFileSync(join(ext, "a_module.ts"), "export class SerialConnectorHelper {}\nexport const notAClass = () => 1;\n");
writeFileSync(join(ext, "b_module.js"), "export class SerialConnector { open() {} close() {} }\n");
writeFileSync(join(ext, "c_default.ts"), "export default class DefaultOne {}\n");
writeFileSync(join(ext, "_private.ts"), "export class Hidden {}\n");
writeFileSync(join(ext, "x.test.ts"), "throw new Error('tests are never imported');\n");
writeFileSync(join(ext, "types.d.ts"), "export interface Nothing {}\n");

describe("findExtensionClass", () => {
  test("the exact name wins over an earlier class that contains it", async () => {
    const found = await findExtensionClass<new () => object>("SerialConnector", ext);
    expect(found.exportName).toBe("SerialConnector");
    expect(found.file).toBe(join(ext, "b_module.js"));
  });
  test("a substring finds the first class containing it (upstream); a default export by its class name", async () => {
    expect((await findExtensionClass("Helper", ext)).exportName).toBe("SerialConnectorHelper");
    expect((await findExtensionClass("DefaultOne", ext)).exportName).toBe("default");
  });
  test("a module file named directly: its default export, else its first class", async () => {
    expect((await findExtensionClass("c_default.ts", ext)).exportName).toBe("default");
    expect((await findExtensionClass("b_module.js", ext)).exportName).toBe("SerialConnector");
  });
  test("a class not there lists what the folder exports; _private, tests and .d.ts are not searched", async () => {
    const e = await findExtensionClass("Hidden", ext).catch((x) => x);
    expect(e).toBeInstanceOf(ExtensionError);
    expect(e.message).toBe(`extension class Hidden not found in ${ext}; the folder exports: SerialConnectorHelper (a_module.ts), SerialConnector (b_module.js), DefaultOne (c_default.ts)`);
  });
  test("a module that fails to load is named with its error; a missing folder says where to put the module", async () => {
    const broken = join(dir, "extensions", "broken");
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, "bad.ts"), "export class Bad { oops( }\n");
    writeFileSync(join(broken, "throws.js"), "throw new Error('no licence key');\n");
    const e = await findExtensionClass("Bad", broken, "custom connector").catch((x) => x);
    expect(e.message).toMatch(/^custom connector class Bad not found in .*broken: bad\.ts failed to load: .+; throws\.js failed to load: no licence key; the folder exports no class$/);
    const missing = await findExtensionClass("X", join(dir, "extensions", "none")).catch((x) => x);
    expect(missing.message).toBe(`extension X: folder ${join(dir, "extensions", "none")} does not exist; put a .ts or .js module exporting class X there`);
  });
});
