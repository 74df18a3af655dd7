// Verifying the 阳光红会 feed in the browser with Web Crypto only (no library):
// - RFC 8785 canonical JSON of an entry document (as notification/log/jcs.py produces it);
// - RFC 9162 leaf hash SHA-256(0x00 || data), node hash SHA-256(0x01 || l || r);
// - the inclusion proof (RFC 9162 §2.1.3.2) against the signed tree head's root;
// - the tree head's Ed25519 signature over the canonical JSON of
//   {"log","tree_size","timestamp","root_hash","key_id"} (notification/log/signing.py);
// - key_id = hex SHA-256 of the raw 32-byte public key.

const encoder = new TextEncoder();

export function canonicalize(value) {
  if (value === null) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error("non-finite number");
    return JSON.stringify(value);
  }
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "[" + value.map(canonicalize).join(",") + "]";
  if (typeof value === "object") {
    // Default sort compares UTF-16 code units, exactly as RFC 8785 §3.2.3 requires.
    const keys = Object.keys(value).sort();
    return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonicalize(value[k])).join(",") + "}";
  }
  throw new Error(`cannot canonicalize ${typeof value}`);
}

export function b64decode(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export function b64encode(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

export function leafHash(data) {
  return sha256(concat(new Uint8Array([0]), data));
}

export function nodeHash(left, right) {
  return sha256(concat(new Uint8Array([1]), left, right));
}

export async function entryLeafHash(document) {
  return leafHash(encoder.encode(canonicalize(document)));
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** RFC 9162 §2.1.3.2: the root an inclusion path leads to, or null if the path is malformed. */
export async function rootFromInclusion(leafIndex, treeSize, leaf, path) {
  if (leafIndex >= treeSize) return null;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

export function webCryptoAvailable() {
  return Boolean(globalThis.crypto && crypto.subtle);
}

/** Check the key id, then the head's signature. Returns {ok, reason}. */
export async function verifyHead(head, key) {
  const raw = b64decode(key.public_key);
  const keyId = hex(await sha256(raw));
  if (keyId !== key.key_id || head.key_id !== key.key_id) {
    return { ok: false, reason: "key_id" };
  }
  const message = encoder.encode(
    canonicalize({
      log: head.log,
      tree_size: head.tree_size,
      timestamp: head.timestamp,
      root_hash: head.root_hash,
      key_id: head.key_id,
    }),
  );
  let publicKey;
  try {
    publicKey = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
  } catch {
    return { ok: false, reason: "no_ed25519" };
  }
  const ok = await crypto.subtle.verify({ name: "Ed25519" }, publicKey, b64decode(head.signature), message);
  return { ok, reason: ok ? null : "signature" };
}

/** Is `document` (as shown) the leaf at `leafIndex` of the tree whose root is `rootB64`? */
export async function verifyInclusion(document, leafIndex, treeSize, auditPath, rootB64) {
  const leaf = await entryLeafHash(document);
  const root = await rootFromInclusion(leafIndex, treeSize, leaf, auditPath.map(b64decode));
  return { ok: root !== null && equal(root, b64decode(rootB64)), leaf: hex(leaf), root: root ? b64encode(root) : null };
}

/**
 * RFC 9162 §2.1.4.2: does the consistency path prove that the tree of size `first` (root
 * `firstB64`) is a prefix of the tree of size `second` (root `secondB64`)? The log was only
 * appended to, never rewritten, between the two signed heads.
 */
export async function verifyConsistency(first, second, firstB64, secondB64, pathB64) {
  const firstHash = b64decode(firstB64);
  const secondHash = b64decode(secondB64);
  let path = pathB64.map(b64decode);
  if (first < 1 || first > second) return false;
  if (first === second) return path.length === 0 && equal(firstHash, secondHash);
  if ((first & (first - 1)) === 0) path = [firstHash, ...path];
  if (!path.length) return false;
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(fr, firstHash) && equal(sr, secondHash);
}
