/**
 * Who may use the monitor and its actions (SPEC §7).
 * 1. Basic auth when `password` is set (and `user`, when set, must match).
 * 2. Actions are off on a non-loopback Host without a password.
 * 3. CSRF tokens: an HMAC of the action and the job under a per-process
 *    secret, so a form only works for what it was made for.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import type { WebSettings } from '../core/settings-types.js';

/** Compares digests of equal length, so the time taken tells nothing of either text, not even its length. */
function sameText(a: string, b: string): boolean {
  const key = randomBytes(32);
  const digest = (text: string) => createHmac('sha256', key).update(text).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * The user named by a valid `Authorization: Basic` header, or undefined when
 * it is missing or wrong. Only asked when a password is set.
 */
export function basicAuthUser(header: string | undefined, web: WebSettings): string | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const user = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  const userOk = web.user === '' || sameText(user, web.user);
  return sameText(password, web.password) && userOk ? user : undefined;
}

/** `localhost`, 127.0.0.0/8, ::1 (and ::ffff:127.x). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || h.startsWith('::ffff:127.');
  return false;
}

/** Why actions are off whatever Delete_Jobs and Licence_to_kill say; undefined when they may be on. */
export function actionsOffReason(web: WebSettings): string | undefined {
  if (web.password || isLoopback(web.host)) return undefined;
  return `Host ${web.host} is reachable from other machines and no password is set`;
}

export class CsrfTokens {
  private readonly secret = randomBytes(32);

  token(action: string, name: string, id: string): string {
    return createHmac('sha256', this.secret).update(`${action}\0${name}\0${id}`).digest('base64url');
  }

  check(token: string | null, action: string, name: string, id: string): boolean {
    return token !== null && sameText(token, this.token(action, name, id));
  }
}
