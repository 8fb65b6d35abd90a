import { describe, expect, it } from "vitest";
import {
  estimateEntropy,
  isAbsolutePath,
  passphraseStrength,
  validateAddKey,
  accessKey,
  validateCreate,
  validateKitPath,
  validateReportPath,
  validateLocation,
  validateNewPassphrase,
  validateOpen,
} from "./validation";

describe("paths", () => {
  it("accepts absolute Unix, Windows and UNC paths", () => {
    expect(isAbsolutePath("/mnt/nas/lifeboat")).toBe(true);
    expect(isAbsolutePath("  /srv/backups  ")).toBe(true);
    expect(isAbsolutePath("C:\\Backups\\lifeboat")).toBe(true);
    expect(isAbsolutePath("d:/backups")).toBe(true);
    expect(isAbsolutePath("\\\\nas\\share\\lifeboat")).toBe(true);
  });

  it("rejects relative paths", () => {
    expect(isAbsolutePath("lifeboat")).toBe(false);
    expect(isAbsolutePath("./lifeboat")).toBe(false);
    expect(isAbsolutePath("~/lifeboat")).toBe(false);
    expect(isAbsolutePath("C:lifeboat")).toBe(false);
    expect(isAbsolutePath("")).toBe(false);
  });

  it("says what to fix", () => {
    expect(validateLocation("/mnt/nas/lifeboat")).toBeNull();
    expect(validateLocation("")).toMatch(/full path/);
    expect(validateLocation("backups")).toMatch(/full path.*not a relative one/);
  });
});

describe("passphrase strength", () => {
  it("calls anything under 8 characters too short", () => {
    expect(passphraseStrength("").score).toBe(0);
    expect(passphraseStrength("Ab1!xyz").label).toBe("Too short");
  });

  it("calls patterns and common words weak", () => {
    expect(passphraseStrength("aaaaaaaa").score).toBe(1);
    expect(passphraseStrength("12345678").score).toBe(1);
    expect(passphraseStrength("abcdefgh").score).toBe(1);
    expect(passphraseStrength("password").score).toBe(1);
    expect(passphraseStrength("Password123!").score).toBe(1);
  });

  it("rates length and variety higher", () => {
    expect(passphraseStrength("kxqwmvtr").score).toBe(2);
    expect(passphraseStrength("Tq7#mZ2p!vR9").score).toBeGreaterThanOrEqual(3);
    expect(passphraseStrength("correct horse battery staple").score).toBe(4);
  });

  it("never estimates below zero", () => {
    expect(estimateEntropy("passwordpassword")).toBeGreaterThanOrEqual(0);
  });
});

describe("form validation", () => {
  const create = {
    location: "/mnt/nas/lifeboat",
    accessKeyId: "",
    secretAccessKey: "",
    keyLabel: "admin workstation",
    passphrase: "correct horse",
    confirm: "correct horse",
  };

  it("accepts a complete create form", () => {
    expect(validateCreate(create)).toBeNull();
  });

  it("reports the first problem with its field", () => {
    expect(validateCreate({ ...create, location: "nas" })?.field).toBe("location");
    expect(validateCreate({ ...create, keyLabel: " " })?.field).toBe("keyLabel");
    expect(validateCreate({ ...create, passphrase: "short", confirm: "short" })?.field).toBe("passphrase");
    expect(validateCreate({ ...create, confirm: "correct horsf" })?.field).toBe("confirm");
  });

  it("counts characters, not UTF-16 units", () => {
    expect(validateNewPassphrase("🔒🔒🔒🔒", "🔒🔒🔒🔒")?.field).toBe("passphrase");
    expect(validateNewPassphrase("ünïcødé!", "ünïcødé!")).toBeNull();
  });

  it("wants a passphrase or a kit to open", () => {
    const open = { location: "/mnt/nas/lifeboat", accessKeyId: "", secretAccessKey: "", useKit: false, passphrase: "", recoveryKit: "" };
    expect(validateOpen(open)?.field).toBe("passphrase");
    expect(validateOpen({ ...open, passphrase: "x" })).toBeNull();
    expect(validateOpen({ ...open, useKit: true })?.field).toBe("recoveryKit");
    expect(validateOpen({ ...open, useKit: true, recoveryKit: "LIFEBOAT RECOVERY KIT ..." })).toBeNull();
    expect(validateOpen({ ...open, location: "", passphrase: "x" })?.field).toBe("location");
  });

  it("takes an S3 bucket, with both halves of an access key or neither", () => {
    const s3 = { ...create, location: "s3://team-backups/lifeboat" };
    expect(validateCreate(s3)).toBeNull();
    expect(validateCreate({ ...s3, accessKeyId: "AKIAEXAMPLE", secretAccessKey: "secret" })).toBeNull();
    expect(validateCreate({ ...s3, accessKeyId: "AKIAEXAMPLE" })?.field).toBe("accessKey");
    expect(validateCreate({ ...s3, secretAccessKey: "secret" })?.field).toBe("accessKey");
    expect(validateCreate({ ...s3, location: "s3://" })?.field).toBe("location");
    expect(accessKey(s3.location, " AKIAEXAMPLE ", "secret")).toEqual({ access_key_id: "AKIAEXAMPLE", secret_access_key: "secret" });
    expect(accessKey(s3.location, "", "")).toBeNull();
    expect(accessKey("/mnt/nas/lifeboat", "AKIAEXAMPLE", "secret")).toBeNull();
    expect(validateKitPath("s3://bucket/kit.txt")?.field).toBe("path");
  });

  it("takes a folder on an SFTP server, never with a password", () => {
    const sftp = { ...create, location: "sftp://backup@nas.lan:2222/srv/lifeboat" };
    expect(validateCreate(sftp)).toBeNull();
    expect(validateCreate({ ...sftp, location: "sftp://u1@box.example/~/lifeboat" })).toBeNull();
    expect(validateCreate({ ...sftp, location: "sftp://nas.lan" })?.field).toBe("location");
    expect(validateCreate({ ...sftp, location: "sftp://nas.lan/~/" })?.field).toBe("location");
    const withPassword = validateCreate({ ...sftp, location: "sftp://backup:hunter2@nas.lan/srv" });
    expect(withPassword?.field).toBe("location");
    expect(withPassword?.message).not.toContain("hunter2");
    expect(accessKey(sftp.location, "AKIAEXAMPLE", "secret")).toBeNull();
  });

  it("wants a label for a new key", () => {
    expect(validateAddKey({ label: "", passphrase: "long enough", confirm: "long enough" })?.field).toBe("label");
    expect(validateAddKey({ label: "Maria", passphrase: "long enough", confirm: "long enough" })).toBeNull();
  });

  it("wants the full path of the recovery kit's file", () => {
    expect(validateKitPath("/home/ana/lifeboat-recovery-kit.txt")).toBeNull();
    expect(validateReportPath("/home/ana/audit.PDF")).toBeNull();
    expect(validateReportPath("/home/ana/audit.htm")).toBeNull();
    expect(validateReportPath("/home/ana/audit.docx")?.message).toMatch(/\.pdf or \.html/);
    const problem = validateKitPath("kit.txt");
    expect(problem?.field).toBe("path");
    expect(problem?.message).toMatch(/full path of the file to write the recovery kit to/);
  });
});
