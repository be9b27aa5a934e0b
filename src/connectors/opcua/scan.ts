export async function runScan(_endpoint: string, _opts: Record<string, string | boolean | undefined>): Promise<number> {
  return 1;
}
