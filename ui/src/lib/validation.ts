// Client-side validation of the first-run and key forms. The backend checks
// again; these give an answer before a ~1 s key derivation.

import type { AccessKey } from "./bindings";

export const MIN_PASSPHRASE_LENGTH = 8;

/** Unix (/mnt/nas), Windows drive (C:\ or C:/) or UNC (\\server\share) paths. */
export function isAbsolutePath(path: string): boolean {
  const p = path.trim();
  return p.startsWith("/") || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith("\\\\");
}

/** `s3://bucket[/prefix]`: a repository in an S3-compatible bucket. */
export function isS3Location(location: string): boolean {
  return /^s3:\/\//i.test(location.trim());
}

/** `sftp://[user@]host[:port]/path`: a repository on an SFTP server. */
export function isSftpLocation(location: string): boolean {
  return /^sftp:\/\//i.test(location.trim());
}

/** The access key typed for an S3 location: null when both fields are empty. */
export function accessKey(location: string, accessKeyId: string, secretAccessKey: string): AccessKey | null {
  if (!isS3Location(location) || (accessKeyId.trim() === "" && secretAccessKey === "")) return null;
  return { access_key_id: accessKeyId.trim(), secret_access_key: secretAccessKey };
}

function validateAccessKey(location: string, accessKeyId: string, secretAccessKey: string): string | null {
  if (!isS3Location(location)) return null;
  if ((accessKeyId.trim() === "") !== (secretAccessKey === "")) {
    return "Enter both the access key ID and its secret, or leave both empty to use this computer’s AWS settings.";
  }
  return null;
}

/** A repository's location: a folder's full path, an S3 bucket or an SFTP server's folder. */
function validateRepositoryLocation(location: string, what: string): string | null {
  const p = location.trim();
  if (isS3Location(p)) return /^s3:\/\/[^/?#]+/i.test(p) ? null : "Name the bucket: s3://bucket or s3://bucket/prefix.";
  if (isSftpLocation(p)) {
    if (/^sftp:\/\/[^/]*:[^/@]*@/i.test(p)) return "No password in the location: Lifeboat logs in with your SSH keys.";
    return /^sftp:\/\/[^/?#]+\/(~\/)?[^/?#~]/i.test(p)
      ? null
      : "Name the server and the folder: sftp://user@host/srv/lifeboat (or /~/lifeboat under the login folder).";
  }
  if (p === "")
    return `Enter the full path of ${what} (for example /mnt/nas/lifeboat), an S3 bucket (s3://bucket/prefix) or an SFTP folder (sftp://user@host/path).`;
  return validateLocation(p, what);
}

/** Null when fine, else what to fix. */
export function validateLocation(path: string, what = "the folder for the repository"): string | null {
  const p = path.trim();
  if (p === "") return `Enter the full path of ${what} (for example /mnt/nas/lifeboat).`;
  if (!isAbsolutePath(p)) return `Give the full path of ${what}, starting with / (for example /mnt/nas/lifeboat), not a relative one.`;
  return null;
}

export type Strength = {
  /** 0 too short, 1 weak, 2 fair, 3 strong, 4 very strong. */
  score: 0 | 1 | 2 | 3 | 4;
  label: string;
  hint: string;
};

const COMMON = ["password", "passwort", "123456", "qwerty", "azerty", "letmein", "welcome", "admin", "lifeboat", "postgres", "iloveyou", "secret"];

/** Rough entropy estimate in bits: character pool, discounting repeats and runs (aaaa, abcd, 1234). */
export function estimateEntropy(passphrase: string): number {
  const chars = Array.from(passphrase);
  if (chars.length === 0) return 0;
  let pool = 0;
  if (/[a-z]/.test(passphrase)) pool += 26;
  if (/[A-Z]/.test(passphrase)) pool += 26;
  if (/[0-9]/.test(passphrase)) pool += 10;
  if (/[^A-Za-z0-9]/.test(passphrase)) pool += 33;
  if (chars.some((c) => c.codePointAt(0)! > 127)) pool += 100;
  let effective = 1;
  for (let i = 1; i < chars.length; i++) {
    const step = chars[i].codePointAt(0)! - chars[i - 1].codePointAt(0)!;
    effective += Math.abs(step) <= 1 ? 0.25 : 1;
  }
  let bits = effective * Math.log2(pool);
  const lower = passphrase.toLowerCase();
  for (const word of COMMON) {
    // A well-known word counts as one guess among thousands, not as its letters.
    if (lower.includes(word)) bits -= Array.from(word).length * Math.log2(pool) - 12;
  }
  return Math.max(0, bits);
}

export function passphraseStrength(passphrase: string): Strength {
  const length = Array.from(passphrase).length;
  if (length === 0) return { score: 0, label: "", hint: "A few random words are easy to remember and hard to guess." };
  if (length < MIN_PASSPHRASE_LENGTH) {
    return { score: 0, label: "Too short", hint: `Use at least ${MIN_PASSPHRASE_LENGTH} characters; a few random words are best.` };
  }
  const bits = estimateEntropy(passphrase);
  if (bits < 36) return { score: 1, label: "Weak", hint: "Easy to guess: add more words or characters." };
  if (bits < 60) return { score: 2, label: "Fair", hint: "Longer is better: four or five random words are hard to guess." };
  if (bits < 80) return { score: 3, label: "Strong", hint: "Good. Store it where your team keeps its secrets." };
  return { score: 4, label: "Very strong", hint: "Good. Store it where your team keeps its secrets." };
}

export type FieldError<F extends string> = { field: F; message: string };

/** A new passphrase and its confirmation. */
export function validateNewPassphrase(passphrase: string, confirm: string): FieldError<"passphrase" | "confirm"> | null {
  if (Array.from(passphrase).length < MIN_PASSPHRASE_LENGTH) {
    return { field: "passphrase", message: `The passphrase is too short: use at least ${MIN_PASSPHRASE_LENGTH} characters (a few random words are best).` };
  }
  if (passphrase !== confirm) {
    return { field: "confirm", message: "The two passphrases differ: type the same passphrase twice." };
  }
  return null;
}

export type CreateInput = {
  location: string;
  accessKeyId: string;
  secretAccessKey: string;
  keyLabel: string;
  passphrase: string;
  confirm: string;
};

export function validateCreate(input: CreateInput): FieldError<"location" | "accessKey" | "keyLabel" | "passphrase" | "confirm"> | null {
  const location = validateRepositoryLocation(input.location, "the folder for the repository");
  if (location) return { field: "location", message: location };
  const key = validateAccessKey(input.location, input.accessKeyId, input.secretAccessKey);
  if (key) return { field: "accessKey", message: key };
  if (input.keyLabel.trim() === "") {
    return { field: "keyLabel", message: "Name the key: who or which device holds this passphrase (for example “admin workstation”)." };
  }
  return validateNewPassphrase(input.passphrase, input.confirm);
}

export type OpenInput = {
  location: string;
  accessKeyId: string;
  secretAccessKey: string;
  useKit: boolean;
  passphrase: string;
  recoveryKit: string;
};

export function validateOpen(input: OpenInput): FieldError<"location" | "accessKey" | "passphrase" | "recoveryKit"> | null {
  const location = validateRepositoryLocation(input.location, "the folder that holds the repository");
  if (location) return { field: "location", message: location };
  const key = validateAccessKey(input.location, input.accessKeyId, input.secretAccessKey);
  if (key) return { field: "accessKey", message: key };
  if (input.useKit) {
    if (input.recoveryKit.trim() === "") return { field: "recoveryKit", message: "Paste the text of the recovery kit." };
  } else if (input.passphrase === "") {
    return { field: "passphrase", message: "Enter the repository’s passphrase, or use a recovery kit." };
  }
  return null;
}

export type AddKeyInput = { label: string; passphrase: string; confirm: string };

export function validateAddKey(input: AddKeyInput): FieldError<"label" | "passphrase" | "confirm"> | null {
  if (input.label.trim() === "") {
    return { field: "label", message: "Name the key: who or which device will use it." };
  }
  return validateNewPassphrase(input.passphrase, input.confirm);
}

/** Where to save a recovery kit. */
export function validateKitPath(path: string): FieldError<"path"> | null {
  const message = validateLocation(path, "the file to write the recovery kit to");
  return message ? { field: "path", message } : null;
}

export function validateReportPath(path: string): FieldError<"path"> | null {
  const message = validateLocation(path, "the file to write the report to");
  if (message) return { field: "path", message };
  return /\.(pdf|html?)$/i.test(path.trim()) ? null : { field: "path", message: "Name a .pdf or .html file: the report is written in that format." };
}

export function validateExportPath(path: string): FieldError<"path"> | null {
  const message = validateLocation(path, "the file to save the backup to");
  return message ? { field: "path", message } : null;
}
