// Suggested file locations.

/** `${home}/lifeboat-recovery-kit-<first 8 of repo id>.txt`, with the home folder's own separator. */
export function defaultKitPath(homeDir: string, repositoryId: string): string {
  return inHome(homeDir, `lifeboat-recovery-kit-${repositoryId.slice(0, 8)}.txt`);
}

/** `${home}/lifeboat-restore-tests-<YYYY-MM-DD>.pdf`, dated by the local day. */
export function defaultReportPath(homeDir: string, today: Date): string {
  const day = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, "0")}-${String(today.getDate()).padStart(2, "0")}`;
  return inHome(homeDir, `lifeboat-restore-tests-${day}.pdf`);
}

/** `${home}/<name>-<short id>.dump`; a server database's `/` becomes `-`. */
export function defaultExportPath(homeDir: string, snapshot: { tag: string; short_id: string }): string {
  return inHome(homeDir, `${snapshot.tag.replaceAll("/", "-")}-${snapshot.short_id}.dump`);
}

function inHome(homeDir: string, name: string): string {
  const home = homeDir.trim();
  if (home === "") return name;
  const separator = home.includes("\\") && !home.includes("/") ? "\\" : "/";
  return home.endsWith("/") || home.endsWith("\\") ? `${home}${name}` : `${home}${separator}${name}`;
}
