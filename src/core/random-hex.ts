/**
 * Random hex for what must not collide (job ids, staging folder names, lock
 * tokens), never for a secret: from Math.random, which V8 seeds per process
 * from the system's entropy. node:crypto would do as well, but loading it
 * took a short command such as `qm submit` about 5 ms.
 */
export function randomHex(bytes: number): string {
  let hex = '';
  for (let i = 0; i < bytes; i++) hex += Math.floor(Math.random() * 256).toString(16).padStart(2, '0');
  return hex;
}
