// The main frame's screens, in navigation order. Drills and Schedules join
// this list when they exist.

export type ScreenId = "overview" | "connections" | "timeline" | "restore" | "repository" | "activity";

export type Screen = { id: ScreenId; label: string };

export const SCREENS: readonly Screen[] = [
  { id: "overview", label: "Overview" },
  { id: "connections", label: "Connections" },
  { id: "timeline", label: "Timeline" },
  { id: "restore", label: "Restore" },
  { id: "repository", label: "Repository & keys" },
  { id: "activity", label: "Activity" },
];
