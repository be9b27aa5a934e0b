// Waiting for something that may never finish (a connector's RPC, a connector's stop, storage on a
// full disk): the result, or TIMEOUT once `ms` passed; the timer never outlives the wait.

export const TIMEOUT = Symbol("timeout");

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => resolve(TIMEOUT), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
