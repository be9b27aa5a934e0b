// Folders to remove once the whole test run ends: each compiled-binary copy is ~130 MB, and a
// developer's /tmp filled up with them (22 GB after a day of runs). test/support/preload.ts removes
// them in a global afterAll (bun test fires no process "exit" handlers).

import { rmSync } from "node:fs";

const folders: string[] = [];

export function removeWhenTestsEnd(dir: string): void {
  folders.push(dir);
}

export function removeRegisteredFolders(): void {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
}
