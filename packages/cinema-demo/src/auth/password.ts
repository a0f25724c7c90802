import { type Algorithm, hash, verify } from '@node-rs/argon2';

/**
 * argon2id with OWASP's current minimum (Password Storage Cheat Sheet): 19 MiB of memory, 2 passes, one lane.
 * The parameters and a random salt are stored in the PHC string, so raising them later only affects new hashes.
 */
const ARGON2ID = {
  // Algorithm.Argon2id: the enum is a `const enum`, which verbatimModuleSyntax cannot import by value.
  algorithm: 2 as Algorithm.Argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
};

/**
 * Hashes a password with argon2id; the result is a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
 *
 * @example
 * const passwordHash = await hashPassword('correct horse battery staple');
 */
export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2ID);
}

// Verified against when the email is unknown, so that an unknown email costs the same time as a wrong password
// and the answer's timing does not tell which accounts exist. Made once, on first use.
let dummyHash: Promise<string> | undefined;

/**
 * Checks a password against an account's hash, or against a dummy hash when there is no account: always one
 * argon2id verification, whatever the case.
 *
 * @example
 * const ok = await checkPassword(account?.passwordHash, body.password);
 */
export async function checkPassword(passwordHash: string | undefined, password: string): Promise<boolean> {
  dummyHash ??= hashPassword('no account has this password');
  const against = passwordHash ?? (await dummyHash);
  let ok: boolean;
  try {
    ok = await verify(against, password);
  } catch {
    // A malformed stored hash refuses the sign-in instead of failing the request.
    ok = false;
  }
  return ok && passwordHash !== undefined;
}
