// Suggested file locations.

/** `${home}/lifeboat-recovery-kit-<first 8 of repo id>.txt`, with the home folder's own separator. */
export function defaultKitPath(homeDir: string, repositoryId: string): string {
  const name = `lifeboat-recovery-kit-${repositoryId.slice(0, 8)}.txt`;
  const home = homeDir.trim();
  if (home === "") return name;
  const separator = home.includes("\\") && !home.includes("/") ? "\\" : "/";
  return home.endsWith("/") || home.endsWith("\\") ? `${home}${name}` : `${home}${separator}${name}`;
}
