// Loaded before every test file (bunfig.toml [test].preload). A hook here runs for every test file.

import { afterAll, afterEach } from "bun:test";
import { removeRegisteredFolders } from "./cleanup.ts";

afterAll(removeRegisteredFolders);

// node-opcua's certificate code sets OPENSSL_CONF and RANDFILE in this process's environment
// (paths in its own temporary folders). Every later child process inherited them: a test that ran
// `openssl` after the OPC-UA tests failed with `Can't open "undefined" for reading` in a full run.
const INHERITED = { OPENSSL_CONF: process.env.OPENSSL_CONF, RANDFILE: process.env.RANDFILE };
afterEach(() => {
  for (const [name, value] of Object.entries(INHERITED)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});
