// Loaded before every test file (bunfig.toml [test].preload). A hook here runs once per `bun test`.

import { afterAll } from "bun:test";
import { removeRegisteredFolders } from "./cleanup.ts";

afterAll(removeRegisteredFolders);
